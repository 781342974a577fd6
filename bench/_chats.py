"""The short chats the benches send, one list for all, so their figures compare."""

QUESTIONS = ['What is the capital of France?', 'Name three colours.', 'What is 2 + 2?',
             'Write a haiku about rain.', 'What is a cat?', 'Say hello in Spanish.',
             'Why is the sky blue?', 'What is Python?']


def chats(n: int) -> list[list[dict]]:
    """n one-message conversations, cycling through QUESTIONS."""
    return [[{'role': 'user', 'content': QUESTIONS[i % len(QUESTIONS)]}] for i in range(n)]
