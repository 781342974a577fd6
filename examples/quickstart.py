"""Quickstart: the composable pieces of lazyllm on a tiny rule-based component.

The "model" here is a plain ModuleBase subclass that answers with rules, so the example runs
anywhere in a second; swap it for a real model module and the rest stays the same.
Run:  python examples/quickstart.py
"""
import json

import lazyllm
from lazyllm import _0, bind, parallel, pipeline
from lazyllm.formatter import JsonFormatter


class KeywordTriage(lazyllm.ModuleBase):
    """Reads OpenAI-style messages, answers with JSON embedded in prose, like an LLM would."""

    RULES = {'refund': 'billing', 'invoice': 'billing', 'crash': 'bug', 'error': 'bug'}

    def forward(self, request):
        text = request['messages'][-1]['content'].lower()
        topic = next((t for word, t in self.RULES.items() if word in text), 'general')
        urgent = '!' in text or 'asap' in text
        return f'Sure. Here is the triage: {json.dumps({"topic": topic, "urgent": urgent})}'


prompter = lazyllm.ChatPrompter('You are a {role}. Classify the ticket.')
triage = KeywordTriage() | JsonFormatter()           # a view whose output is parsed JSON

with pipeline() as app:
    app.prompt = lambda ticket: prompter.generate_prompt(
        {'role': 'support triager', 'input': ticket}, format='openai')
    app.triage = triage
    app.route = parallel(
        topic=lambda t: t['topic'],
        priority=lambda t: 'P1' if t['urgent'] else 'P3',
    ).asdict
    app.reply = bind(lambda ticket, r: {**r, 'ticket': ticket}, app.input, _0)

if __name__ == '__main__':
    print(app)
    for ticket in ['My invoice is wrong, refund ASAP!', 'The app shows an error on start',
                   'How do I change my avatar?']:
        print(app(ticket))
    batch = lazyllm.warp(app)(['crash on save!', 'refund please'])
    print('batch:', [r['topic'] for r in batch])
