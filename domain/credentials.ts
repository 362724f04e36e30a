/** Rules for what people type in: emails and passwords. */

/** Password rule of the Mini Marketplace source: 8 to 128 characters with a lower-case letter, an upper-case letter and a digit. */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/** Returns what a password lacks, in words a user understands; empty when it is acceptable. */
export function passwordProblems(password: string): string[] {
  const problems: string[] = [];
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) problems.push(`must have at least ${PASSWORD_MIN_LENGTH} characters`);
  if (length > PASSWORD_MAX_LENGTH) problems.push(`must have at most ${PASSWORD_MAX_LENGTH} characters`);
  if (!/\p{Ll}/u.test(password)) problems.push("must contain a lower-case letter");
  if (!/\p{Lu}/u.test(password)) problems.push("must contain an upper-case letter");
  if (!/\p{Nd}/u.test(password)) problems.push("must contain a digit");
  return problems;
}

/** Normalises an email for storage and lookup: trimmed and lower-cased. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}
