package page

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Channel is a front end that renders pages. The values match the zones
// package's channels.
type Channel string

// Channels.
const (
	ChannelWeChat Channel = "wechat"
	ChannelAlipay Channel = "alipay"
	ChannelBaidu  Channel = "baidu"
	ChannelApp    Channel = "app"
	ChannelH5     Channel = "h5"
)

// Capability is a platform feature that differs between channels.
type Capability string

// Capabilities.
const (
	CapLogin        Capability = "login"
	CapShare        Capability = "share"
	CapFavourite    Capability = "favourite"
	CapFileDownload Capability = "file_download"
	CapCamera       Capability = "camera"
	CapScan         Capability = "scan"
	CapLaunch       Capability = "launch" // open another mini-program, or be opened by one
)

// Fallback is the behaviour a front end uses in place of a capability the
// channel lacks. The package comment describes each value.
type Fallback string

// Fallbacks.
const (
	FallbackHide          Fallback = "hide"
	FallbackCopyLink      Fallback = "copy_link"
	FallbackRedirectLogin Fallback = "redirect_login"
	FallbackOpenURL       Fallback = "open_url"
	FallbackFileInput     Fallback = "file_input"
	FallbackURLScheme     Fallback = "url_scheme"
)

var fallbacks = []Fallback{
	FallbackHide, FallbackCopyLink, FallbackRedirectLogin,
	FallbackOpenURL, FallbackFileInput, FallbackURLScheme,
}

// Support is one cell of the capability matrix.
type Support struct {
	Supported bool `json:"supported"`

	// API is the platform API or page event handler behind the capability,
	// such as "wx.login". It is empty where no public API exists.
	API string `json:"api"`

	// Source is the platform's documentation page for API, and Confirmed
	// reports that the page was read. Both are empty or false where it was
	// not found.
	Source    string   `json:"source"`
	Confirmed bool     `json:"confirmed"`
	SeeAlso   []string `json:"see_also,omitempty"`

	// Fallback is set when Supported is false.
	Fallback Fallback `json:"fallback,omitempty"`

	// Note states restrictions, or where the facts come from when Confirmed
	// is false.
	Note string `json:"note,omitempty"`
}

//go:embed capabilities.json
var capabilitiesJSON []byte

type matrix struct {
	Channels     []Channel                          `json:"channels"`
	Capabilities []Capability                       `json:"capabilities"`
	Cells        map[Channel]map[Capability]Support `json:"matrix"`
}

var loadMatrix = sync.OnceValue(func() *matrix {
	m, err := parseMatrix(capabilitiesJSON)
	if err != nil {
		// The matrix is embedded at build time, and TestMatrixComplete
		// catches a broken file before this can happen in production.
		panic(fmt.Sprintf("page: %v", err))
	}

	return m
})

// parseMatrix decodes the matrix and checks that every channel has every
// capability and that each unsupported cell has a known fallback.
func parseMatrix(data []byte) (*matrix, error) {
	var m matrix
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parse capabilities.json: %w", err)
	}

	var errs []error

	for _, ch := range m.Channels {
		for _, c := range m.Capabilities {
			s, ok := m.Cells[ch][c]

			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("capabilities.json: %s/%s is missing", ch, c))
			case !s.Supported && !slices.Contains(fallbacks, s.Fallback):
				errs = append(errs, fmt.Errorf("capabilities.json: %s/%s is unsupported and has no known fallback (%q)", ch, c, s.Fallback))
			case s.Supported && s.Fallback != "":
				errs = append(errs, fmt.Errorf("capabilities.json: %s/%s is supported but has fallback %q", ch, c, s.Fallback))
			case s.Confirmed != (s.Source != ""):
				errs = append(errs, fmt.Errorf("capabilities.json: %s/%s must have a source exactly when confirmed", ch, c))
			}
		}
	}

	return &m, errors.Join(errs...)
}

// Channels returns every channel in display order.
func Channels() []Channel {
	return slices.Clone(loadMatrix().Channels)
}

// Capabilities returns every capability in display order.
func Capabilities() []Capability {
	return slices.Clone(loadMatrix().Capabilities)
}

// Lookup returns the matrix cell for a channel and capability. ok is false
// when either is unknown.
func Lookup(ch Channel, c Capability) (s Support, ok bool) {
	s, ok = loadMatrix().Cells[ch][c]
	s.SeeAlso = slices.Clone(s.SeeAlso)

	return s, ok
}

// KnownChannel reports whether ch is in the matrix.
func KnownChannel(ch Channel) bool {
	return slices.Contains(loadMatrix().Channels, ch)
}
