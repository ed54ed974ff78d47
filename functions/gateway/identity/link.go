package identity

import "time"

// Link ties a platform account to a Jingtong subject.
//
// The key is (platform, app ID, platform user ID): WeChat and Baidu openids
// and Alipay open_ids differ between apps of the same platform, and nothing
// proves that two platform accounts belong to one person. The first login
// of an account creates its link with a new random subject, with one
// exception: a WeChat login that carries a unionid reuses the subject of an
// earlier WeChat link with the same unionid, because WeChat issues one
// unionid per person across the apps of one WeChat Open Platform account.
// Accounts on different platforms are never merged automatically; that needs
// an explicit binding after real-name verification.
type Link struct {
	Platform       Platform
	AppID          string
	PlatformUserID string
	// UnionID is the WeChat unionid, empty when none was sent.
	UnionID string
	// Subject is the Jingtong user the account belongs to.
	Subject     string
	CreatedAt   time.Time
	LastLoginAt time.Time
}
