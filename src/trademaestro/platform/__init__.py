"""The web platform's side of the executor: REST client, Pusher realtime client, command bus,
LLM supervisor client, credentials, and a local platform simulator (``platform.sim``)."""
