import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decryptSecret, decryptSecretWithKeys, encryptSecret } from "../../src/core/crypto";

const key = () => randomBytes(32).toString("base64");

describe("secret encryption (AES-256-GCM)", () => {
  it("round-trips and never repeats a ciphertext (random IV)", async () => {
    const k = key();
    const a = await encryptSecret("wb-token-Ω", k);
    const b = await encryptSecret("wb-token-Ω", k);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v1\.[\w-]+\.[\w-]+$/);
    expect(await decryptSecret(a, k)).toBe("wb-token-Ω");
  });

  it("refuses a tampered ciphertext and a wrong key", async () => {
    const k = key();
    const c = await encryptSecret("secret", k);
    const [v, iv, data] = c.split(".") as [string, string, string];
    const flipped = `${v}.${iv}.${data.slice(0, -2)}${data.endsWith("A") ? "B" : "A"}${data.slice(-1)}`;
    await expect(decryptSecret(flipped, k)).rejects.toThrow();
    await expect(decryptSecret(c, key())).rejects.toThrow();
  });

  it("decrypts with the previous key during a rotation and says so", async () => {
    const [current, previous] = [key(), key()];
    const old = await encryptSecret("secret", previous);
    expect(await decryptSecretWithKeys(old, [current, previous])).toEqual({ plaintext: "secret", keyIndex: 1 });
    const fresh = await encryptSecret("secret", current);
    expect(await decryptSecretWithKeys(fresh, [current, previous])).toEqual({ plaintext: "secret", keyIndex: 0 });
    await expect(decryptSecretWithKeys(old, [current])).rejects.toThrow("No encryption key");
  });
});
