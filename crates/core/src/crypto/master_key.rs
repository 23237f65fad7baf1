//! The master key: keys the HMACs of stored secrets and seals private material (AES-256-GCM).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;

use crate::error::{CoreError, CoreResult};

pub struct MasterKey {
    hmac: hmac::Key,
    aead: LessSafeKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> CoreResult<Self> {
        if bytes.len() != 32 {
            return Err(CoreError::Internal("the master key must be 32 bytes".into()));
        }
        // Separate sub-keys for the two uses, derived with HMAC as a PRF.
        let root = hmac::Key::new(hmac::HMAC_SHA256, bytes);
        let mac_key = hmac::sign(&root, b"castellan/hmac/v1");
        let enc_key = hmac::sign(&root, b"castellan/aead/v1");
        let unbound = UnboundKey::new(&AES_256_GCM, enc_key.as_ref()).map_err(CoreError::internal)?;
        Ok(MasterKey { hmac: hmac::Key::new(hmac::HMAC_SHA256, mac_key.as_ref()), aead: LessSafeKey::new(unbound) })
    }

    /// HMAC-SHA-256 of `data` in a named domain, so a hash of one kind never matches another.
    pub fn mac(&self, domain: &str, data: &[u8]) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.hmac);
        ctx.update(domain.as_bytes());
        ctx.update(&[0]);
        ctx.update(data);
        ctx.sign().as_ref().to_vec()
    }

    /// nonce ‖ ciphertext ‖ tag; `context` is bound as associated data.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> CoreResult<Vec<u8>> {
        let nonce_bytes = super::random_bytes::<NONCE_LEN>();
        let mut buf = plaintext.to_vec();
        self.aead
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(context.as_bytes()), &mut buf)
            .map_err(CoreError::internal)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> CoreResult<Vec<u8>> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(CoreError::Internal("sealed value too short".into()));
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(CoreError::internal)?;
        let mut buf = ct.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| CoreError::Internal("cannot open sealed value (wrong master key?)".into()))?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_context() -> CoreResult<()> {
        let k = MasterKey::from_bytes(&[7u8; 32])?;
        let sealed = k.seal("totp", b"secret")?;
        assert_eq!(k.open("totp", &sealed)?, b"secret");
        assert!(k.open("key", &sealed).is_err());
        let other = MasterKey::from_bytes(&[8u8; 32])?;
        assert!(other.open("totp", &sealed).is_err());
        Ok(())
    }

    #[test]
    fn mac_is_domain_separated() -> CoreResult<()> {
        let k = MasterKey::from_bytes(&[7u8; 32])?;
        assert_ne!(k.mac("a", b"x"), k.mac("b", b"x"));
        assert_eq!(k.mac("a", b"x"), k.mac("a", b"x"));
        Ok(())
    }
}
