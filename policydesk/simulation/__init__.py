"""`policydesk simulate`: a conversation with one policy on the simulation runtime (worker.simulation).

`session.Simulation` builds the context as the worker would and plays the customer's turns,
`script` reads conversation files, `render` prints the trace, `cli` is the command.
"""
