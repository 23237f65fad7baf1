//! Password rules: length, composition (where a profile demands it) and a list of passwords that
//! attackers try first.

use crate::model::policy::PasswordPolicy;

/// Passwords too common to accept whatever the rules say (a short list of the top offenders,
/// compared case-insensitively).
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1234567890",
    "qwerty",
    "qwerty123",
    "qwertyuiop",
    "abc123",
    "abcd1234",
    "111111",
    "000000",
    "iloveyou",
    "letmein",
    "welcome",
    "welcome1",
    "welcome123",
    "admin",
    "admin123",
    "administrator",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "shadow",
    "master",
    "superman",
    "trustno1",
    "changeme",
    "secret",
    "1q2w3e4r",
    "1qaz2wsx",
    "zaq12wsx",
    "q1w2e3r4",
    "asdfghjkl",
    "aa123456",
    "123123",
    "123qwe",
    "11111111",
    "87654321",
    "passpass",
    "computer",
    "internet",
    "Password1!",
    "Password123!",
    "Passw0rd!",
    "P@ssw0rd1",
    "P@ssw0rd123",
    "Welcome1!",
    "Qwerty123!",
];

/// The rules `password` breaks, as short names (`min_length`, `upper`, …); empty means acceptable.
pub fn unmet_rules(policy: &PasswordPolicy, password: &str) -> Vec<String> {
    let mut unmet = Vec::new();
    let chars = password.chars().count();
    if chars < policy.min_length as usize {
        unmet.push(format!("min_length:{}", policy.min_length));
    }
    if chars > 256 {
        unmet.push("max_length:256".to_string());
    }
    if policy.require_upper && !password.chars().any(char::is_uppercase) {
        unmet.push("uppercase".to_string());
    }
    if policy.require_lower && !password.chars().any(char::is_lowercase) {
        unmet.push("lowercase".to_string());
    }
    if policy.require_digit && !password.chars().any(|c| c.is_ascii_digit()) {
        unmet.push("digit".to_string());
    }
    if policy.require_special && !password.chars().any(|c| policy.special_chars.contains(c)) {
        unmet.push(format!("special:{}", policy.special_chars));
    }
    if COMMON.iter().any(|c| c.eq_ignore_ascii_case(password)) {
        unmet.push("common_password".to_string());
    }
    unmet
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Policy;

    #[test]
    fn a_profiles_rules_name_what_is_missing() {
        let p = Policy::of_dialect(crate::model::Dialect::Korastratum).password;
        assert!(unmet_rules(&p, "SecurePass123!").is_empty());
        assert_eq!(unmet_rules(&p, "short"), vec!["min_length:8", "uppercase", "digit", "special:@$!%*?&"]);
        assert_eq!(unmet_rules(&p, "Password123!"), vec!["common_password"]);
    }

    #[test]
    fn default_profile_takes_long_lowercase_passphrases_and_refuses_common_ones() {
        let p = Policy::default_profile().password;
        assert!(unmet_rules(&p, "correct horse battery staple").is_empty());
        assert_eq!(unmet_rules(&p, "abcdefg"), vec!["min_length:8"]);
        assert_eq!(unmet_rules(&p, "password123"), vec!["common_password"]);
    }
}
