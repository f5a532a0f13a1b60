"""``train_model.py --include-feedback``'s argument (the training run with users' digits
from a PostgreSQL store is in tests/test_train.py, to train once)."""



def test_feedback_is_off_by_default_and_the_flag_alone_uses_the_default_store(monkeypatch, tmp_path):
    from train_model import parse_args

    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(tmp_path / "f.sqlite3"))
    assert parse_args([]).include_feedback is None
    assert parse_args(["--include-feedback"]).include_feedback == str(tmp_path / "f.sqlite3")
    monkeypatch.setenv("MNIST_FEEDBACK_DB", "postgresql://u:p@db.example/answers")
    assert parse_args(["--include-feedback"]).include_feedback == "postgresql://u:p@db.example/answers"
