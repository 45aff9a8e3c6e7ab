"""Chat templates render as Hugging Face renders them; failures are clear 400s."""

from __future__ import annotations

import pytest

from kaiyuan.engine.embedded import resolve_model
from kaiyuan.engine.model import Model
from kaiyuan.engine.template import ChatTemplate, TemplateRenderError


@pytest.fixture(scope="module")
def qwen_template() -> ChatTemplate:
    model = Model(resolve_model("qwen2.5-coder-0.5b").path)
    template = ChatTemplate(model.chat_template, eos_token=model.token_text(model.eos_id))
    model.close()
    return template


def test_qwen_default_system_prompt(qwen_template: ChatTemplate) -> None:
    text = qwen_template.render([{"role": "user", "content": "Hi"}])
    assert text == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
        "assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_qwen_tools_and_tool_results(qwen_template: ChatTemplate) -> None:
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18°C, sunny"},
    ]
    text = qwen_template.render(messages, tools=tools)
    assert "# Tools" in text and '"name": "get_weather"' in text
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>' \
        in text
    assert "<tool_response>\n18°C, sunny\n</tool_response>" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_template_kwargs_and_generation_prompt() -> None:
    template = ChatTemplate(
        "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
        "{% if add_generation_prompt %}[assistant]{% if enable_thinking %}<think>{% endif %}"
        "{% endif %}"
    )
    messages = [{"role": "user", "content": "x"}]
    assert template.render(messages, template_kwargs={"enable_thinking": True}) == \
        "[user]x[assistant]<think>"
    assert template.render(messages, add_generation_prompt=False) == "[user]x"


def test_raise_exception_becomes_a_clear_request_error() -> None:
    template = ChatTemplate(
        "{% if messages[0].role != 'user' %}{{ raise_exception('Conversations must start "
        "with a user message') }}{% endif %}ok"
    )
    with pytest.raises(TemplateRenderError) as caught:
        template.render([{"role": "assistant", "content": "x"}])
    assert caught.value.status_code == 400
    assert "must start with a user message" in caught.value.message


def test_sandbox_blocks_attribute_escapes() -> None:
    template = ChatTemplate("{{ messages.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateRenderError):
        template.render([{"role": "user", "content": "x"}])


def test_syntax_error_is_reported_at_load() -> None:
    with pytest.raises(ValueError, match="does not compile"):
        ChatTemplate("{% for %}")
