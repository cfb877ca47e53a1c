"""Side doors into the same pipeline: Stripe payments, Shopify orders, signed webhooks from
other systems and inflow-route links. Each verifies its caller, records the event once, finds
the friend, runs the scenario's actions and publishes a domain event for rules and steps."""
