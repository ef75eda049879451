from reconciler.errors import (
    ConfigError,
    DuplicateContactError,
    NotFoundError,
    PermanentItemError,
    RateLimitedError,
    RetriableError,
    SideError,
)


def test_config_error_is_one_line_naming_the_setting() -> None:
    err = ConfigError("RECONCILER_DATABASE_URL", "not a database URL")
    assert str(err) == "invalid setting RECONCILER_DATABASE_URL: not a database URL"
    assert "\n" not in str(err)


def test_classification_by_class() -> None:
    assert issubclass(RateLimitedError, RetriableError)
    assert issubclass(NotFoundError, PermanentItemError)
    dup = DuplicateContactError("exists", existing_id="c1", status=400)
    assert isinstance(dup, SideError)
    assert dup.existing_id == "c1"
    assert dup.status == 400
