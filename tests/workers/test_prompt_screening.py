import pytest

from workers.safety.prompts import DEFAULT_BLOCKED_CONCEPTS, parse_concepts, screen_prompt

CONCEPTS = parse_concepts(DEFAULT_BLOCKED_CONCEPTS)


@pytest.mark.parametrize(
    ("prompt", "category"),
    [
        ("a nude figure on a beach", "sexual"),
        ("NUDES in the park", "sexual"),
        ("p0rn star", "sexual"),
        ("n.u.d.e woman", "sexual"),
        ("n u d e woman", "sexual"),
        ("ｎｕｄｅ portrait", "sexual"),  # fullwidth letters fold to ASCII
        ("a gory battlefield", "violence"),
        ("someone beheading a statue", "violence"),
        ("thinking about self-harm", "self-harm"),
    ],
)
def test_blocked_prompts_report_their_category(prompt, category):
    verdict = screen_prompt(prompt, CONCEPTS)
    assert verdict.blocked and verdict.category == category


@pytest.mark.parametrize(
    "prompt",
    ["a photo of a cat", "a gorgeous sunset", "a snake doing yoga", "nudibranch under the sea", "a sexy-free zone"],
)
def test_ordinary_prompts_pass(prompt):
    assert not screen_prompt(prompt, CONCEPTS).blocked


def test_operator_format_with_categories_files_and_comments():
    concepts = parse_concepts("violence: sword fight, duel\n# a comment\nbrands: acme; lone term")
    assert [(c.category, c.phrase) for c in concepts] == [
        ("violence", "sword fight"),
        ("violence", "duel"),
        ("brands", "acme"),
        ("blocked", "lone term"),
    ]
    assert screen_prompt("two knights in a Sword   Fight", concepts).category == "violence"
    assert not screen_prompt("a swordsmith", concepts).blocked


def test_empty_category_is_an_error():
    with pytest.raises(ValueError):
        parse_concepts(": term")
