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

/// What a one-time-code message may say.
pub struct OtpVars<'a> {
    pub code: &'a str,
    pub minutes: i64,
    pub app: &'a str,
    pub tenant: &'a str,
    /// Placeholders the caller supplies with its request, filled after ours.
    pub extra: &'a [(String, String)],
}

fn fill(template: &str, v: &OtpVars<'_>) -> String {
    let filled = template
        .replace("{code}", v.code)
        .replace("{minutes}", &v.minutes.to_string())
        .replace("{app}", v.app)
        .replace("{tenant}", v.tenant);
    v.extra.iter().fold(filled, |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
}

/// (subject, body) of an emailed one-time code: the tenant's wording, else ours.
pub fn otp_email(custom: &crate::model::MessageTemplates, v: &OtpVars<'_>) -> (String, String) {
    let subject = custom.otp_email_subject.as_deref().unwrap_or("Your {app} verification code");
    let body = custom.otp_email_body.as_deref().unwrap_or(
        "Hello,\n\nYour {app} verification code is:\n\n    {code}\n\nIt expires in {minutes} minutes and works once. \
         If you did not try to sign in, change your password: someone knows it.\n",
    );
    (fill(subject, v), fill(body, v))
}

/// The text of a one-time code sent by SMS: short, code first (phones show the start).
pub fn otp_sms(custom: &crate::model::MessageTemplates, v: &OtpVars<'_>) -> String {
    let text = custom.otp_sms.as_deref().unwrap_or("{code} is your {app} verification code. It expires in {minutes} min.");
    fill(text, v)
}

/// Sent when a passkey or security key is added to or removed from an account.
pub fn sign_in_changed(tenant: &str, what: &str) -> (String, String) {
    (
        format!("How you sign in to {tenant} changed"),
        format!(
            "Hello,\n\n{what} on your {tenant} account.\n\nIf this was not you, sign in, remove what you do not \
             know on your account page, and change your password at once.\n"
        ),
    )
}

/// Sent when a recovery code is used: the user learns of a use that was not theirs.
pub fn recovery_code_used(tenant: &str, left: u32) -> (String, String) {
    (
        format!("A recovery code was used for your {tenant} account"),
        format!(
            "Hello,\n\nOne of your {tenant} recovery codes was just used to sign in. {left} unused codes are left.\n\n\
             If this was not you, sign in, make new recovery codes and change your password at once.\n"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MessageTemplates;

    #[test]
    fn otp_texts_carry_code_expiry_and_application() {
        let v = OtpVars { code: "123456", minutes: 5, app: "Member Portal", tenant: "Acme", extra: &[] };
        let (subject, body) = otp_email(&MessageTemplates::default(), &v);
        assert_eq!(subject, "Your Member Portal verification code");
        assert!(body.contains("123456") && body.contains("5 minutes"));
        assert!(otp_sms(&MessageTemplates::default(), &v).starts_with("123456 is your Member Portal"));
        let custom = MessageTemplates { otp_sms: Some("{tenant}: {code} ({minutes}m)".into()), ..Default::default() };
        assert_eq!(otp_sms(&custom, &v), "Acme: 123456 (5m)");
        let extra = [("UIN".to_string(), "2530192395".to_string()), ("code".to_string(), "000000".to_string())];
        let custom = MessageTemplates { otp_sms: Some("{code} for UIN {UIN}".into()), ..Default::default() };
        // A caller's variable named like ours cannot replace the code: ours are filled first.
        assert_eq!(otp_sms(&custom, &OtpVars { extra: &extra, ..v }), "123456 for UIN 2530192395");
    }
}
