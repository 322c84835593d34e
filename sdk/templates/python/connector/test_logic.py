"""`python3 -m unittest`: the logic on its own, no hub needed."""

import unittest

import logic


class Connector(unittest.TestCase):
    def test_decodes_subject_and_body(self):
        subject, body = logic.decode_text("Нет воды\nТретий день нет воды в доме 5.".encode())
        self.assertEqual(subject, "Нет воды")
        self.assertEqual(body, "Третий день нет воды в доме 5.")

    def test_refuses_what_is_not_text(self):
        with self.assertRaises(logic.InvalidInput):
            logic.decode_text(b"\xff\xfe")

    def test_encodes_one_line(self):
        self.assertEqual(logic.encode_line("m-1", "high", "Нет воды"), "m-1 high Нет воды\n".encode())


if __name__ == "__main__":
    unittest.main()
