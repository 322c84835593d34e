"""`python3 -m unittest`: the logic on its own, no hub needed."""

import unittest

import logic


class FoundWord(unittest.TestCase):
    def test_a_message_naming_a_word(self):
        self.assertEqual(logic.found_word(None, "СРОЧНО: нет воды третий день", None), "срочно")

    def test_other_messages(self):
        self.assertIsNone(logic.found_word("Вопрос", "Прошу разъяснить порядок приёма", None))

    def test_the_words_come_from_the_config(self):
        self.assertEqual(logic.found_word(None, "Отопление не работает", "отопление"), "отопление")
        self.assertIsNone(logic.found_word(None, "срочно", "отопление"))
        with self.assertRaises(logic.ConfigError):
            logic.found_word(None, "срочно", " , ")


if __name__ == "__main__":
    unittest.main()
