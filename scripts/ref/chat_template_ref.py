#!/usr/bin/env python3
"""Reference renderer for chat templates: Python jinja2 configured exactly as transformers'
apply_chat_template configures it (transformers/utils/chat_template_utils.py: _compile_jinja_template
and render_jinja_template; tokenization_utils_base.py: template_kwargs = {**special_tokens_map, **kwargs}).
No transformers import. Reads {"cases": [...]} as JSON on stdin, writes one result per case as JSON:
{"text": str} or {"error": str}.

A case: {"template": str, "messages": [...], "add_generation_prompt": bool, "continue_final_message": bool,
"tools": list|null, "documents": list|null, "special_tokens": {...}, "kwargs": {...},
"now": [Y, m, d, H, M, S] (the clock strftime_now reads)}."""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def compile_template(template, now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # transformers overrides jinja's tojson, which would escape HTML characters
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return now.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(template)


def render(case):
    now = datetime(*case.get("now", [2026, 1, 2, 3, 4, 5]))
    compiled = compile_template(case["template"], now)
    chat = case["messages"]
    add_generation_prompt = case.get("add_generation_prompt", False)
    continue_final_message = case.get("continue_final_message", False)
    if add_generation_prompt and continue_final_message:
        raise ValueError("continue_final_message and add_generation_prompt are not compatible")
    template_kwargs = {**case.get("special_tokens", {}), **case.get("kwargs", {})}
    rendered = compiled.render(
        messages=chat,
        tools=case.get("tools"),
        documents=case.get("documents"),
        add_generation_prompt=add_generation_prompt,
        **template_kwargs,
    )
    if continue_final_message:
        final_message = chat[-1]["content"]
        if isinstance(final_message, (list, tuple)):
            for block in reversed(final_message):
                if "text" in block:
                    final_message = block["text"]
                    break
        if final_message.strip() not in rendered:
            raise ValueError("the final message does not appear in the chat")
        loc = rendered.rindex(final_message.strip())
        if rendered[loc : loc + len(final_message.lstrip())] == final_message:
            rendered = rendered[: loc + len(final_message.lstrip())]
        else:
            rendered = rendered[: loc + len(final_message.strip())]
    return rendered


def main():
    cases = json.load(sys.stdin)["cases"]
    out = []
    for case in cases:
        try:
            out.append({"text": render(case)})
        except Exception as e:  # the test compares messages
            out.append({"error": str(e)})
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
