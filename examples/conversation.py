"""A conversation that always fits the model's context: the oldest turns are dropped (and
reported), the system prompt stays.

    python examples/conversation.py [MODEL_FOLDER]         # default: SmolLM2-135M-Instruct
"""
from _default_model import model_folder

import lazyllm

if __name__ == '__main__':
    folder = model_folder()
    with lazyllm.TrainableModule(folder).start() as m:
        # a small budget on purpose, so that turns get dropped
        chat = lazyllm.Conversation(m, system='You are a terse assistant.',
                                    max_context_length=160, reserve=24)
        for line in ['My name is Ada.', 'I live in Paris.', 'I like tea.', 'What is my name?']:
            answer = chat(line, temperature=0, max_tokens=24)
            print(f'> {line}\n{answer}')
        print(f'kept {len(chat.turns)} messages, dropped {len(chat.dropped)}; '
              f'the system prompt is still {chat.history[0]["content"]!r}')
