"""What members read in each shipped language, as literal text: the tests compare the bot's
replies with these, never with the catalogues themselves."""

from __future__ import annotations

LANGUAGES = ("en", "de", "fr", "es", "pt_BR", "ja")

# texts.HISTORY_IMAGES with count 1 and count 2.
IMAGES = {
    "en": ("1 image", "2 images"),
    "de": ("1 Bild", "2 Bilder"),
    "fr": ("1 image", "2 images"),
    "es": ("1 imagen", "2 imágenes"),
    "pt_BR": ("1 imagem", "2 imagens"),
    "ja": ("1 枚", "2 枚"),
}

# texts.QUEUE_FULL with count 1 and count 2.
QUEUE_FULL = {
    "en": (
        "You already have 1 job queued or generating. Wait for one to finish.",
        "You already have 2 jobs queued or generating. Wait for one to finish.",
    ),
    "de": (
        "Du hast schon 1 Auftrag in der Warteschlange oder in Arbeit. Warte, bis einer fertig ist.",
        "Du hast schon 2 Aufträge in der Warteschlange oder in Arbeit. "
        "Warte, bis einer fertig ist.",
    ),
    "fr": (
        "Vous avez déjà 1 tâche en attente ou en cours. Attendez qu'elle se termine.",
        "Vous avez déjà 2 tâches en attente ou en cours. Attendez que l'une d'elles se termine.",
    ),
    "es": (
        "Ya tienes 1 tarea en cola o generándose. Espera a que termine.",
        "Ya tienes 2 tareas en cola o generándose. Espera a que termine alguna.",
    ),
    "pt_BR": (
        "Você já tem 1 tarefa na fila ou gerando. Espere ela terminar.",
        "Você já tem 2 tarefas na fila ou gerando. Espere uma terminar.",
    ),
    "ja": (
        "すでに 1 件のジョブがキュー待ちか生成中です。どれかが終わるまでお待ちください。",
        "すでに 2 件のジョブがキュー待ちか生成中です。どれかが終わるまでお待ちください。",
    ),
}

# texts.BUDGET_NOT_ENOUGH(needed=1500, left=2, total=3000, reset="<t:1:R>"): grouping per locale.
NOT_ENOUGH = {
    "en": "Not enough credits: this needs 1,500 and you have 2 of 3,000 left today. "
    "Your budget resets <t:1:R>.",
    "de": "Nicht genug Credits: Das braucht 1.500, und du hast heute noch 2 von 3.000. "
    "Dein Budget wird <t:1:R> zurückgesetzt.",
    "fr": "Pas assez de crédits : il en faut 1\u202f500 et il vous en reste 2 sur 3\u202f000 "
    "aujourd'hui. Votre budget se réinitialise <t:1:R>.",
    "es": "No tienes créditos suficientes: esto necesita 1.500 y te quedan 2 de 3.000 hoy. "
    "Tu presupuesto se reinicia <t:1:R>.",
    "pt_BR": "Créditos insuficientes: isto precisa de 1.500 e restam 2 de 3.000 hoje. "
    "Seu orçamento reinicia <t:1:R>.",
    "ja": "クレジットが足りません：1,500 必要ですが、今日の残りは 3,000 のうち 2 です。"
    "予算は <t:1:R> にリセットされます。",
}

# texts.ADMIN_USAGE_USD_VALUE(usd=1234.5): USD written the locale's way.
USD = {
    "en": "$1,234.50",
    "de": "1.234,50\xa0$",
    "fr": "1\u202f234,50\xa0$",
    "es": "1.234,50\xa0$",
    "pt_BR": "$\xa01.234,50",
    "ja": "$1,234.50",
}

# The result embed's field names (Model, Aspect ratio, Seed, Cost) and the cost of one image of
# Imagen 4 Fast on a fresh budget of 100 credits.
RESULT = {
    "en": (("Model", "Aspect ratio", "Seed", "Cost"), "1 credit · 99 left today"),
    "de": (("Modell", "Seitenverhältnis", "Seed", "Kosten"), "1 Credit · heute noch 99 übrig"),
    "fr": (("Modèle", "Format", "Seed", "Coût"), "1 crédit · 99 restants aujourd'hui"),
    "es": (("Modelo", "Relación de aspecto", "Semilla", "Coste"), "1 crédito · te quedan 99 hoy"),
    "pt_BR": (("Modelo", "Proporção", "Seed", "Custo"), "1 crédito · restam 99 hoje"),
    "ja": (("モデル", "アスペクト比", "シード", "料金"), "1 クレジット · 今日の残り 99"),
}

# The refusal of a 401-character prompt for Imagen 4 Fast (at most 400).
PROMPT_TOO_LONG = {
    "en": "The prompt is 401 characters; Imagen 4 Fast takes at most 400.",
    "de": "Der Prompt hat 401 Zeichen; Imagen 4 Fast nimmt höchstens 400.",
    "es": "El prompt tiene 401 caracteres; Imagen 4 Fast admite como máximo 400.",
    "ja": "プロンプトが 401 文字あります。Imagen 4 Fast は最大 400 文字です。",
}

# The queue ticket at position 1.
QUEUED = {
    "en": "Queued: position 1. You can cancel until it starts; "
    "you are only charged for images delivered.",
    "de": "In der Warteschlange: Platz 1. Du kannst abbrechen, bis es losgeht; "
    "berechnet werden nur gelieferte Bilder.",
}

# The log channel's copy of a delivered generation: its title and the "Model" field's name.
MIRROR = {
    "en": ("Image generated", "Model"),
    "fr": ("Image générée", "Modèle"),
    "ja": ("画像を生成しました", "モデル"),
}
