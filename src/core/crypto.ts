/**
 * Secret encryption at rest (marketplace API tokens): AES-256-GCM via WebCrypto with a
 * random 96-bit IV per message. Ciphertext format: `v1.<iv base64url>.<ciphertext+tag base64url>`;
 * the version prefix lets the key or algorithm change later.
 * @see https://www.w3.org/TR/WebCryptoAPI/#aes-gcm
 */
const keyCache = new Map<string, Promise<CryptoKey>>();

function importKey(keyBase64: string): Promise<CryptoKey> {
  let key = keyCache.get(keyBase64);
  if (!key) {
    const raw = Uint8Array.from(atob(keyBase64), (c) => c.charCodeAt(0));
    key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    keyCache.set(keyBase64, key);
  }
  return key;
}

/** base64url without padding. */
export function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decodes base64url (padding optional). */
export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replaceAll("-", "+").replaceAll("_", "/");
  return Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

/** Encrypts UTF-8 `plaintext` with the base64 32-byte key. */
export async function encryptSecret(plaintext: string, keyBase64: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await importKey(keyBase64), new TextEncoder().encode(plaintext));
  return `v1.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(data))}`;
}

/**
 * Decrypts a value made by `encryptSecret`.
 * @throws Error when the format is unknown or the tag does not verify (wrong key, tampering).
 */
export async function decryptSecret(ciphertext: string, keyBase64: string): Promise<string> {
  const [version, iv, data] = ciphertext.split(".");
  if (version !== "v1" || !iv || !data) throw new Error("Unknown secret format");
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromBase64Url(iv) }, await importKey(keyBase64), fromBase64Url(data));
  return new TextDecoder().decode(plain);
}

/**
 * Decrypts with the first of `keys` that verifies (current key first, then previous ones
 * during a rotation). `keyIndex` > 0 tells the caller to re-encrypt with `keys[0]`.
 * @throws Error when no key verifies.
 */
export async function decryptSecretWithKeys(ciphertext: string, keys: readonly string[]): Promise<{ plaintext: string; keyIndex: number }> {
  for (const [keyIndex, key] of keys.entries()) {
    try {
      return { plaintext: await decryptSecret(ciphertext, key), keyIndex };
    } catch {
      // try the next key
    }
  }
  throw new Error("No encryption key decrypts this secret");
}

/** Hex SHA-256 of a string (cache keys, fingerprints). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Constant-time comparison of two strings (length leaks, content does not). */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * The keys a stored secret may be encrypted with, newest first: `ENCRYPTION_KEY`, then, during a
 * key rotation, `ENCRYPTION_KEY_PREVIOUS` (for {@link decryptSecretWithKeys}).
 */
export function encryptionKeys(config: { ENCRYPTION_KEY: string; ENCRYPTION_KEY_PREVIOUS?: string | undefined }): string[] {
  return config.ENCRYPTION_KEY_PREVIOUS ? [config.ENCRYPTION_KEY, config.ENCRYPTION_KEY_PREVIOUS] : [config.ENCRYPTION_KEY];
}
