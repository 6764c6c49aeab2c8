"""Tag normalisation, the same for samples, checkpoints and queries: stripped, lower-cased,
de-duplicated (first occurrence kept), empty ones dropped."""


def normalise_tags(tags: list[str] | None) -> list[str]:
    cleaned = (tag.strip().lower() for tag in tags or [])
    return list(dict.fromkeys(tag for tag in cleaned if tag))
