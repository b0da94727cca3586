"""Order intents, the decision core's outputs, and how they become broker requests."""
