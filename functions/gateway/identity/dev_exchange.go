package identity

import (
	"context"
	"errors"
	"strings"
)

// DevAppID is the app ID of the development exchanger.
const DevAppID = "dev"

// DevCodePrefix starts every development login code: "dev-citizen" logs in
// as the test user "citizen".
const DevCodePrefix = "dev-"

// DevExchanger replaces the platforms in local development. The code
// "dev-<user>" belongs to the test user <user> (see DevUsers), and Login
// links it to that user's fixed subject and roles. It calls no platform, so
// anyone who can reach it can log in as any test user; register it only in
// development.
type DevExchanger struct{}

var _ CodeExchanger = DevExchanger{}

// Platform returns PlatformDev.
func (DevExchanger) Platform() Platform { return PlatformDev }

// AppID returns DevAppID.
func (DevExchanger) AppID() string { return DevAppID }

// Exchange returns the test user that code names, or an error wrapping
// ErrCodeInvalid.
func (DevExchanger) Exchange(_ context.Context, code string) (*PlatformUser, error) {
	key, ok := strings.CutPrefix(code, DevCodePrefix)
	if !ok {
		return nil, &PlatformError{Platform: PlatformDev, Kind: ErrCodeInvalid, Err: errors.New(`development codes have the form "dev-<user>"`)}
	}
	if _, ok := LookupDevUser(key); !ok {
		return nil, &PlatformError{Platform: PlatformDev, Kind: ErrCodeInvalid, Err: errors.New("no such test user; use one of " + devUserKeys())}
	}
	return &PlatformUser{Platform: PlatformDev, AppID: DevAppID, UserID: key}, nil
}

// fixedAccount returns the subject and roles of a development user, which
// Login uses in place of a new subject and the default roles.
func (DevExchanger) fixedAccount(userID string) (DevUser, bool) {
	return LookupDevUser(userID)
}

// fixedAccounts is implemented by exchangers whose users have fixed
// subjects and roles.
type fixedAccounts interface {
	fixedAccount(userID string) (DevUser, bool)
}
