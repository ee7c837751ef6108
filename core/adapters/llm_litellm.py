"""The LLM port through litellm: one chat completion, its usage and cost, errors made plain."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from core.config import LLMSettings
from core.errors import LLMError
from core.ports import LLMReply

log = logging.getLogger(__name__)

_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm")
_litellm: Any = None


def _load_litellm() -> Any:
    """Import litellm on first use: the import takes seconds and must not reach for the network."""
    global _litellm
    if _litellm is None:
        # Without this litellm downloads its model cost map from GitHub at import time.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banners on stdout
        litellm.set_verbose = False
        litellm.telemetry = False
        for name in _LITELLM_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        _litellm = litellm
    return _litellm


class LiteLLMClient:
    """A chat-completion model reached through litellm (any provider it knows)."""

    def __init__(self, settings: LLMSettings, api_key: str) -> None:
        self.settings = settings
        self.model = settings.model
        self._api_key = api_key

    def __repr__(self) -> str:  # never show the key
        return f"LiteLLMClient(model={self.model!r})"

    async def complete(
        self, messages: Sequence[Mapping[str, str]], *, max_tokens: int, json_mode: bool = False
    ) -> LLMReply:
        """One completion; raises LLMError on timeout, rate limit, provider error or bad reply."""
        if not self.model:
            raise LLMError("No language model is configured (llm.model is empty).")
        litellm = await asyncio.to_thread(_load_litellm) if _litellm is None else _litellm
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "api_base": self.settings.api_base or None,
            # A local OpenAI-compatible server takes any key, but litellm refuses to send none.
            "api_key": self._api_key or ("no-key" if self.settings.api_base else None),
            "timeout": self.settings.timeout_s,
            "max_tokens": max_tokens,
            # The pipeline retries whole episodes later; retries here would multiply waits and cost.
            "num_retries": 0,
            "max_retries": 0,
        }
        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        try:
            response = await litellm.acompletion(**kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - litellm maps provider failures to its classes
            raise self._plain_error(exc, litellm) from None
        return self._reply(response, litellm)

    def _reply(self, response: Any, litellm: Any) -> LLMReply:
        try:
            choice = response.choices[0]
            text = choice.message.content or ""
        except (AttributeError, IndexError, TypeError):
            raise LLMError(
                f"The language model {self.model} sent a reply without a message."
            ) from None
        if not isinstance(text, str):
            raise LLMError(f"The language model {self.model} sent a reply that is not text.")
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        return LLMReply(
            text=text,
            model=self.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=self._cost(response, litellm),
        )

    def _cost(self, response: Any, litellm: Any) -> float:
        """The reply's price when litellm knows the model; 0.0 for local or unknown models."""
        try:
            cost = float(litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:  # noqa: BLE001 - unknown model: a price is nice to have, never required
            return 0.0
        return cost if cost >= 0 else 0.0

    def _plain_error(self, exc: Exception, litellm: Any) -> LLMError:
        """A user-fit LLMError for a litellm exception; never includes the API key."""
        errors = litellm.exceptions
        model = self.model
        if isinstance(exc, (errors.Timeout, TimeoutError)):
            seconds = f"{self.settings.timeout_s:g}"
            message = f"The language model {model} did not answer within {seconds} s."
        elif isinstance(exc, errors.RateLimitError):
            message = f"The language model {model} is rate limiting us (429); try again later."
        elif isinstance(exc, (errors.AuthenticationError, errors.PermissionDeniedError)):
            env = self.settings.api_key_env
            message = f"The language model {model} refused our API key; check {env}."
        elif isinstance(exc, errors.ContextWindowExceededError):
            message = f"The prompt is too long for the language model {model}."
        elif isinstance(exc, errors.NotFoundError):
            message = f"The language model {model} was not found at the provider."
        elif isinstance(exc, errors.BadRequestError):
            message = f"The language model {model} rejected the request as invalid."
        elif isinstance(exc, errors.APIConnectionError):
            message = f"Could not reach the language model {model}."
        elif isinstance(exc, (errors.InternalServerError, errors.ServiceUnavailableError,
                              errors.BadGatewayError, errors.APIError)):
            message = f"The language model {model} failed on the provider's side."
        else:
            message = f"The language model {model} failed ({type(exc).__name__})."
        detail = _redact(str(exc), self._api_key)[:300]
        log.warning(
            "llm call failed: model=%s error=%s detail=%s", model, type(exc).__name__, detail
        )
        return LLMError(message)


def _redact(text: str, secret: str) -> str:
    """`text` with every occurrence of the secret masked."""
    return text.replace(secret, "***") if secret else text
