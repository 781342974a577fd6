"""Real HTTP servers that tests and bench scripts run in a background thread.

``tests.servers.openai_server.OpenAIServer``: an OpenAI-compatible server with scripted
faults. (Nothing is imported here, so ``python -m tests.servers.openai_server`` runs cleanly.)
"""
