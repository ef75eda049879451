"""Encryption at rest and masking of secrets."""

from __future__ import annotations

import logging
import os
import pickle
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from reconciler.errors import ConfigError
from reconciler.settings import Settings
from reconciler.store.credentials import AccountCredentials
from reconciler.store.crypto import Cipher, Secret, generate_key, load_or_create_key_file


def test_secret_is_masked_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret("pit-very-secret")
    assert "very-secret" not in repr(secret)
    assert "very-secret" not in str(secret)
    assert "very-secret" not in f"{secret} {secret!r} {secret:>20}"
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("token %s %r", secret, secret)
    assert "very-secret" not in caplog.text
    assert secret.reveal() == "pit-very-secret"
    assert secret == Secret("pit-very-secret")
    assert secret != Secret("other")
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        hash(secret)


def test_credentials_repr_hides_every_secret() -> None:
    credentials = AccountCredentials(
        access_token=Secret("acc-111"),
        refresh_token=Secret("ref-222"),
        expires_at=datetime(2025, 1, 1, tzinfo=UTC),
        scopes=frozenset({"contacts.write"}),
        client_id="client",
        client_secret=Secret("cs-333"),
    )
    text = repr(credentials)
    for value in ("acc-111", "ref-222", "cs-333"):
        assert value not in text
    assert AccountCredentials.from_json(credentials.to_json()) == credentials


def test_cipher_round_trip_and_ciphertext_hides_plaintext() -> None:
    cipher = Cipher([generate_key()])
    token = cipher.encrypt_json({"access_token": "acc-plain"})
    assert "acc-plain" not in token
    assert cipher.decrypt_json(token) == {"access_token": "acc-plain"}


def test_key_rotation_old_blobs_still_decrypt_and_rotate() -> None:
    old_key, new_key = generate_key(), generate_key()
    old = Cipher([old_key])
    blob = old.encrypt(b"payload")
    rotated_cipher = Cipher([new_key, old_key])
    assert rotated_cipher.decrypt(blob) == b"payload"
    rotated = rotated_cipher.rotate(blob)
    assert Cipher([new_key]).decrypt(rotated) == b"payload"
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        Cipher([new_key]).decrypt(blob)


def test_bad_key_error_never_echoes_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        Cipher([generate_key(), "not-a-fernet-key-but-a-secret"])
    assert "key #2" in str(caught.value)
    assert "not-a-fernet-key" not in str(caught.value)


def test_from_settings_splits_comma_separated_keys(tmp_path: Path) -> None:
    first, second = generate_key(), generate_key()
    blob = Cipher([second]).encrypt(b"x")
    settings = Settings(data_dir=tmp_path, secret_key=SecretStr(f"{first}, {second}"))
    assert Cipher.from_settings(settings).decrypt(blob) == b"x"
    assert not (tmp_path / "secret.key").exists()


def test_key_file_generated_once_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    blob = Cipher.from_settings(settings).encrypt(b"kept")
    mode = stat.S_IMODE(os.stat(settings.key_file).st_mode)
    assert mode == 0o600
    # A second start reads the same key.
    assert Cipher.from_settings(settings).decrypt(blob) == b"kept"
    assert load_or_create_key_file(settings.key_file) == settings.key_file.read_text().strip()


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text(generate_key())
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_or_create_key_file(path)
