"""LINE adapter: signatures, webhook parsing and the Messaging API client. Knows nothing of CRM."""
