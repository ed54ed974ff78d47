package auth

import (
	"errors"
	"fmt"
)

// Limits of an identity, checked by [Identity.Validate]. They keep the
// identity header, which travels on every forwarded request, small.
const (
	// MaxSubjectSize is the longest subject in bytes.
	MaxSubjectSize = 128
	// MaxRoles is the largest number of roles of one identity.
	MaxRoles = 16
	// MaxRoleSize is the longest role name in bytes.
	MaxRoleSize = 32
	// MaxChannelSize is the longest channel name in bytes.
	MaxChannelSize = 32
	// MaxAppSize is the longest app ID in bytes.
	MaxAppSize = 64
)

// Validate reports whether id can travel in identity headers and tokens:
//   - Subject has 1 to 128 characters from A–Z, a–z, 0–9 and ".", "_", ":",
//     "@", "-";
//   - at most 16 roles, each 1 to 32 characters from a–z, 0–9 and "_",
//     starting with a letter, none repeated and none [RolePlatform];
//   - Channel has at most 32 characters from a–z, 0–9, "_" and "-";
//   - App has at most 64 characters from A–Z, a–z, 0–9 and ".", "_", "-".
func (id *Identity) Validate() error {
	if id == nil {
		return errors.New("auth: identity is nil")
	}
	if len(id.Subject) == 0 || len(id.Subject) > MaxSubjectSize || !allBytes(id.Subject, isSubjectByte) {
		return fmt.Errorf("auth: invalid subject %q; use 1 to %d characters from A-Z, a-z, 0-9 and . _ : @ -", id.Subject, MaxSubjectSize)
	}

	if len(id.Roles) > MaxRoles {
		return fmt.Errorf("auth: identity has %d roles; the maximum is %d", len(id.Roles), MaxRoles)
	}
	for i, role := range id.Roles {
		if !validRoleName(role) {
			return fmt.Errorf("auth: invalid role %q; use 1 to %d characters from a-z, 0-9 and _, starting with a letter", role, MaxRoleSize)
		}
		if role == RolePlatform {
			return errors.New("auth: role \"platform\" comes only from the platform token")
		}
		for _, earlier := range id.Roles[:i] {
			if earlier == role {
				return fmt.Errorf("auth: role %q is listed twice", role)
			}
		}
	}

	if len(id.Channel) > MaxChannelSize || !allBytes(id.Channel, isChannelByte) {
		return fmt.Errorf("auth: invalid channel %q; use at most %d characters from a-z, 0-9, _ and -", id.Channel, MaxChannelSize)
	}
	if len(id.App) > MaxAppSize || !allBytes(id.App, isAppByte) {
		return fmt.Errorf("auth: invalid app ID %q; use at most %d characters from A-Z, a-z, 0-9 and . _ -", id.App, MaxAppSize)
	}
	return nil
}

func validRoleName(role Role) bool {
	if len(role) == 0 || len(role) > MaxRoleSize || role[0] < 'a' || role[0] > 'z' {
		return false
	}
	return allBytes(string(role), func(c byte) bool { return isLowerDigit(c) || c == '_' })
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isLowerDigit(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isLowerDigit(c) || c >= 'A' && c <= 'Z' }

func isSubjectByte(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == ':' || c == '@' || c == '-'
}

func isChannelByte(c byte) bool { return isLowerDigit(c) || c == '_' || c == '-' }

func isAppByte(c byte) bool { return isAlnum(c) || c == '.' || c == '_' || c == '-' }
