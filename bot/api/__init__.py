"""The AI/ML API: the request (``request``), the client with its retries (``client``).

Only the names the rest of the bot imports are re-exported here; everything else is imported from
the submodule that owns it.
"""

from bot.api.client import AimlApiClient, GeneratedImage, GenerationResult
from bot.api.request import GenerationRequest

__all__ = ["AimlApiClient", "GeneratedImage", "GenerationRequest", "GenerationResult"]
