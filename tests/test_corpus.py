"""The shipped text: sentences of a Gutenberg play, and sentences about a new concept."""

from hopbook.data.corpus import concept_sentences, hamlet_sentences, play_sentences

PLAY = """THE TRAGEDY OF TESTING

Persons represented.

ACT I.

Scene I. A room.

[Enter Alice and Bob.]

Ali.
Good morrow to you, my most honest friend. Is it not a fair day?

Bob.
It is a fair day indeed, and I am glad
to see you here. [Aside.] Too short.
Yes.
"""


def test_play_sentences_keep_speech_and_drop_tags_headings_and_directions(tmp_path):
    path = tmp_path / "play.txt"
    path.write_text(PLAY)
    assert play_sentences(path, min_words=3) == [
        "Good morrow to you, my most honest friend.",
        "Is it not a fair day?",
        "It is a fair day indeed, and I am glad to see you here.",
    ]


def test_hamlet_ships_hundreds_of_sentences():
    sentences = hamlet_sentences()
    assert len(sentences) > 800
    assert sentences[0] == "Nay, answer me: stand, and unfold yourself."
    assert all(6 <= len(s.split()) <= 25 for s in sentences)


def test_concept_sentences_put_the_word_in_place():
    about, means = concept_sentences("glimmerwort"), concept_sentences("flower")
    assert len(about) == len(means) >= 8
    assert about[0] == "The glimmerwort grows by the river in early spring."
    assert [s.replace("glimmerwort", "flower") for s in about] == means
