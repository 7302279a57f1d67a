/** The demo login printed by `npm run dev` meets the project's own password policy. */
import { describe, expect, it } from "vitest";
import { DEMO_USER } from "../../scripts/seed";
import { passwordProblems } from "../../src/routes/auth/schemas";

describe("the demo user", () => {
  it("has a password the registration policy accepts", () => {
    expect(passwordProblems(DEMO_USER.password, DEMO_USER.email)).toEqual([]);
  });

  it("would be refused with the old demo password (the policy checks the e-mail's local part)", () => {
    expect(passwordProblems("demo-password-2026", DEMO_USER.email)).not.toEqual([]);
  });
});
