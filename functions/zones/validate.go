package zones

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jingtong/backend/shared/httpx"
)

// Field limits: text lengths in characters, list lengths in entries.
const (
	maxNameRunes    = 60
	maxSummaryRunes = 500
	maxLongRunes    = 4000
	maxShortRunes   = 64
	maxURLLength    = 2048
	maxListLen      = 50
	maxGuideList    = 100
	maxZoneServices = 500
)

var (
	namePattern     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	endpointPattern = regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE) /[A-Za-z0-9/_.{}-]*$`)
)

// validSlug reports whether v is an entity id: 2 to 63 lowercase letters,
// digits or hyphens, starting with a letter or digit. It is the regexp
// ^[a-z0-9][a-z0-9-]{1,62}$ written out, because every read by id checks
// one and a regexp match costs more than the cached read it guards.
func validSlug(v string) bool {
	if len(v) < 2 || len(v) > 63 || v[0] == '-' {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// checker collects validation problems so one response lists all of them.
type checker struct {
	details []httpx.Detail
}

func (c *checker) add(path, reason, zh, en string) {
	c.details = append(c.details, httpx.Detail{Path: path, Reason: reason, ZH: zh, EN: en})
}

func (c *checker) required(path string) {
	c.add(path, "required", "必填", "is required")
}

// err returns nil when nothing was reported, else INVALID_REQUEST with one
// detail per problem.
func (c *checker) err() error {
	if len(c.details) == 0 {
		return nil
	}
	return httpx.E(httpx.CodeInvalidRequest).WithDetails(c.details...)
}

// mergeProblems combines INVALID_REQUEST errors into one that lists the
// details of all of them. It returns nil when every error is nil, and the
// first error of another code as it is.
func mergeProblems(errs ...error) error {
	var c checker
	for _, err := range errs {
		if err == nil {
			continue
		}
		var e *httpx.Error
		if !errors.As(err, &e) || e.Code.ID != httpx.CodeInvalidRequest.ID {
			return err
		}
		c.details = append(c.details, e.Details...)
	}
	return c.err()
}

// slug checks an entity id.
func (c *checker) slug(path, v string) {
	if v == "" {
		c.required(path)
		return
	}
	if !validSlug(v) {
		c.add(path, "invalid_format",
			"须为 2 到 63 位小写字母、数字或连字符，且以字母或数字开头",
			"must be 2 to 63 lowercase letters, digits or hyphens, starting with a letter or digit")
	}
}

// name checks a machine name such as a prefill field or theme.
func (c *checker) name(path, v string) {
	if !namePattern.MatchString(v) {
		c.add(path, "invalid_format",
			"须为 1 到 63 位小写字母、数字或下划线，且以字母开头",
			"must be 1 to 63 lowercase letters, digits or underscores, starting with a letter")
	}
}

// text checks a bilingual text: ZH is required when required is set, and
// each language is at most maxRunes characters.
func (c *checker) text(path string, t Text, required bool, maxRunes int) {
	if required && strings.TrimSpace(t.ZH) == "" {
		c.required(path + "/zh")
	}
	if !required && t.ZH == "" && t.EN != "" {
		c.add(path+"/zh", "required", "填写英文时必须同时填写中文", "is required when en is set")
	}
	c.length(path+"/zh", t.ZH, maxRunes)
	c.length(path+"/en", t.EN, maxRunes)
}

// length checks that v is valid UTF-8 without NUL characters and has at
// most maxRunes characters. PostgreSQL text cannot contain NUL, so it is
// rejected here rather than failing or being altered at write time.
func (c *checker) length(path, v string, maxRunes int) {
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		c.add(path, "invalid_format", "包含无效的 UTF-8 字符或空字符", "contains invalid UTF-8 or a NUL character")
		return
	}
	if n := utf8.RuneCountInString(v); n > maxRunes {
		c.add(path, "too_long",
			fmt.Sprintf("最多 %d 个字符，当前 %d 个", maxRunes, n),
			fmt.Sprintf("must be at most %d characters, got %d", maxRunes, n))
	}
}

// count checks that a list has at most maxLen entries.
func (c *checker) count(path string, n, maxLen int) bool {
	if n > maxLen {
		c.add(path, "too_many",
			fmt.Sprintf("最多 %d 项，当前 %d 项", maxLen, n),
			fmt.Sprintf("must have at most %d entries, got %d", maxLen, n))
		return false
	}
	return true
}

// enum checks that v is one of allowed.
func (c *checker) enum(path, v string, allowed []string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	if v == "" {
		c.required(path)
		return
	}
	list := strings.Join(allowed, ", ")
	c.add(path, "invalid_enum", "须为以下值之一："+list, "must be one of: "+list)
}

// link checks a URL that a front end opens: a relative path under /h5/ or an
// absolute https URL with a host.
func (c *checker) link(path, v string, required bool) {
	if v == "" {
		if required {
			c.required(path)
		}
		return
	}
	if !validLink(v) {
		c.add(path, "invalid_url",
			"须为以 /h5/ 开头的相对路径或 https 链接",
			"must be a relative path starting with /h5/ or an https URL")
	}
}

func validLink(v string) bool {
	if len(v) > maxURLLength || strings.ContainsAny(v, " \t\r\n\\") {
		return false
	}
	if strings.HasPrefix(v, "/h5/") {
		u, err := url.Parse(v)
		return err == nil && u.Scheme == "" && u.Host == "" && !strings.Contains(u.Path, "..")
	}
	u, err := url.Parse(v)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}

// icon checks an icon reference: empty, a name from the front ends' icon set
// such as "marriage", or a link accepted by link.
func (c *checker) icon(path, v string) {
	if v == "" || validSlug(v) || namePattern.MatchString(v) || validLink(v) {
		return
	}
	c.add(path, "invalid_format",
		"须为图标名（小写字母、数字、连字符或下划线）、以 /h5/ 开头的相对路径或 https 链接",
		"must be an icon name (lowercase letters, digits, hyphens or underscores), a path starting with /h5/ or an https URL")
}

// channels checks a channel list: known values without duplicates.
func (c *checker) channels(path string, list []Channel) {
	if !c.count(path, len(list), len(Channels)) {
		return
	}
	seen := map[Channel]bool{}
	for i, ch := range list {
		p := fmt.Sprintf("%s/%d", path, i)
		if !validChannel(ch) {
			c.enum(p, string(ch), channelNames())
			continue
		}
		if seen[ch] {
			c.add(p, "duplicate", "重复的渠道", "is a duplicate channel")
		}
		seen[ch] = true
	}
}

// stringList checks a list of short strings with check applied to each entry.
func (c *checker) stringList(path string, list []string, maxLen int, check func(path, v string)) {
	if !c.count(path, len(list), maxLen) {
		return
	}
	seen := map[string]bool{}
	for i, v := range list {
		p := fmt.Sprintf("%s/%d", path, i)
		if seen[v] {
			c.add(p, "duplicate", "重复的值", "is a duplicate")
			continue
		}
		seen[v] = true
		check(p, v)
	}
}

// shortText checks a required single-line string of at most maxShortRunes.
func (c *checker) shortText(path, v string) {
	if strings.TrimSpace(v) == "" {
		c.required(path)
		return
	}
	c.length(path, v, maxShortRunes)
}

func validChannel(ch Channel) bool {
	for _, known := range Channels {
		if ch == known {
			return true
		}
	}
	return false
}

func channelNames() []string {
	out := make([]string, len(Channels))
	for i, ch := range Channels {
		out[i] = string(ch)
	}
	return out
}

// availableOn reports whether an entity with the channel list is shown on
// ch; an empty list means every channel.
func availableOn(list []Channel, ch Channel) bool {
	if len(list) == 0 || ch == "" {
		return true
	}
	for _, c := range list {
		if c == ch {
			return true
		}
	}
	return false
}

// validateUpdate adds a missing-version problem to the field problems in
// err, so an update reports everything at once.
func validateUpdate(err error, version int64) error {
	if version >= 1 {
		return err
	}
	var c checker
	var e *httpx.Error
	if errors.As(err, &e) {
		c.details = e.Details
	}
	c.add("/version", versionReason(version), "须填写读取时的版本号（正整数）", "must be the version you read, a positive integer")
	return c.err()
}

// versionReason returns the detail reason for a version below 1:
// "required" when it is absent (0) and "out_of_range" when it is negative.
func versionReason(v int64) string {
	if v == 0 {
		return "required"
	}
	return "out_of_range"
}

func statusNames() []string {
	return []string{string(StatusDraft), string(StatusPublished), string(StatusOffline)}
}
