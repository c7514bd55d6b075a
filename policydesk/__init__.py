"""policydesk: resolves e-commerce support tickets by running natural-language support policies."""
