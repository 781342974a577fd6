"""A tool-using agent loop on SmolLM2-135M-Instruct: the model calls a Python function, gets
its result back as a tool message, and answers with it.

    python examples/agent_tools.py [MODEL_FOLDER]

The first turn forces a call (``tool_choice`` names the function): the engine decodes under a
grammar, so even a 135M model returns a well-formed call whose arguments match the
function's schema. The second turn sends the call and the function's result back, with no new
prompt, and the model answers from it.
"""
import json

from _default_model import model_folder

import lazyllm

FORECASTS = {'paris': 'sunny, 21 °C', 'london': 'rain, 14 °C', 'tokyo': 'cloudy, 18 °C'}


def get_weather(city: str) -> str:
    """The tool: a real Python function the model can only reach through a tool call."""
    return FORECASTS.get(city.strip().lower(), f'no forecast for {city}')


WEATHER_TOOL = {'type': 'function', 'function': {
    'name': 'get_weather', 'description': 'Get the current weather in a city.',
    'parameters': {'type': 'object', 'additionalProperties': False, 'required': ['city'],
                   'properties': {'city': {'type': 'string', 'description': 'a city name',
                                           'maxLength': 40}}}}}
TOOLS = {'get_weather': get_weather}


def run_agent(llm, question: str) -> str:
    user = {'role': 'user', 'content': question}
    call_message = llm(question, tools=[WEATHER_TOOL], tool_choice={
        'type': 'function', 'function': {'name': 'get_weather'}})
    history = [user, call_message]
    for call in call_message['tool_calls']:
        args = json.loads(call['function']['arguments'])
        result = TOOLS[call['function']['name']](**args)
        print(f'tool call: {call["function"]["name"]}({args}) -> {result!r}')
        history.append({'role': 'tool', 'tool_call_id': call['id'], 'content': result})
    return llm(history=history, tools=[WEATHER_TOOL], tool_choice='none')


PROMPT = 'You are a weather assistant. Answer in one sentence from the tool results.'


if __name__ == '__main__':
    with lazyllm.TrainableModule(model_folder()).start() as base:
        agent = base.share(prompt=PROMPT, temperature=0, max_tokens=60)
        question = 'What is the weather like in Paris today?'
        print('question:', question)
        print('answer:', run_agent(agent, question))
