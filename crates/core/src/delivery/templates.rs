//! Default message texts. Plain text, so every mail client shows them the same.

pub fn verify_email(tenant: &str, link: &str) -> (String, String) {
    (
        format!("Confirm your email address for {tenant}"),
        format!(
            "Hello,\n\nPlease confirm your email address for {tenant} by opening this link:\n\n{link}\n\n\
             The link is valid for 24 hours. If you did not create an account, ignore this message.\n"
        ),
    )
}

pub fn reset_password(tenant: &str, link: &str) -> (String, String) {
    (
        format!("Reset your {tenant} password"),
        format!(
            "Hello,\n\nSomeone asked to reset the password of your {tenant} account. To choose a new \
             password, open this link:\n\n{link}\n\nThe link works once and expires in 1 hour. If you \
             did not ask for this, ignore this message: your password stays as it is.\n"
        ),
    )
}
