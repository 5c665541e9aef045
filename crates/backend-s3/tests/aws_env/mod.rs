//! The environment of the credential tests, each its own binary.

/// Empties every place the AWS chain finds credentials in the environment and in files
/// (instance metadata off), then sets `extra`.
///
/// # Safety
/// As [`s3dlio_core::testkit::replace_env`]: first thing in a binary of one test.
pub unsafe fn without_aws_credentials(extra: &[(&str, &str)]) {
    let files = [
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/s3dlio/credentials"),
        ("AWS_CONFIG_FILE", "/nonexistent/s3dlio/config"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let set: Vec<_> = files.iter().chain(extra).copied().collect();
    // SAFETY: the caller's promise.
    unsafe {
        s3dlio_core::testkit::replace_env(
            &[
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
                "AWS_PROFILE",
                "AWS_WEB_IDENTITY_TOKEN_FILE",
            ],
            &set,
        )
    };
}
