package page

import (
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestMatrixComplete(t *testing.T) {
	t.Parallel()

	if _, err := parseMatrix(capabilitiesJSON); err != nil {
		t.Fatalf("parseMatrix() error = %v", err)
	}

	wantChannels := "wechat,alipay,baidu,app,h5"
	if got := joinChannels(Channels()); got != wantChannels {
		t.Errorf("Channels() = %s, want %s", got, wantChannels)
	}

	if got := len(Capabilities()); got != 7 {
		t.Errorf("len(Capabilities()) = %d, want 7", got)
	}
}

func joinChannels(chs []Channel) string {
	parts := make([]string, len(chs))
	for i, ch := range chs {
		parts[i] = string(ch)
	}

	return strings.Join(parts, ",")
}

func TestMatrixRejectsBrokenData(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		data string
	}{
		{"missing cell rejected", `{"channels":["h5"],"capabilities":["login"],"matrix":{"h5":{}}}`},
		{"unknown fallback rejected", `{"channels":["h5"],"capabilities":["login"],"matrix":{"h5":{"login":{"supported":false,"fallback":"pray"}}}}`},
		{"supported with fallback rejected", `{"channels":["h5"],"capabilities":["login"],"matrix":{"h5":{"login":{"supported":true,"fallback":"hide"}}}}`},
		{"confirmed without source rejected", `{"channels":["h5"],"capabilities":["login"],"matrix":{"h5":{"login":{"supported":true,"confirmed":true}}}}`},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if _, err := parseMatrix([]byte(tt.data)); err == nil {
				t.Errorf("parseMatrix() error = nil, want an error")
			}
		})
	}
}

func TestMatrixCells(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		channel      Channel
		capability   Capability
		wantAPI      string
		wantFallback Fallback
	}{
		{"wechat login API", ChannelWeChat, CapLogin, "wx.login", ""},
		{"alipay login API", ChannelAlipay, CapLogin, "my.getAuthCode", ""},
		{"baidu login API", ChannelBaidu, CapLogin, "swan.login", ""},
		{"wechat favourite handler", ChannelWeChat, CapFavourite, "onAddToFavorites", ""},
		{"baidu launch API", ChannelBaidu, CapLaunch, "swan.navigateToSmartProgram", ""},
		{"h5 login redirects", ChannelH5, CapLogin, "", FallbackRedirectLogin},
		{"h5 share copies link", ChannelH5, CapShare, "", FallbackCopyLink},
		{"h5 favourite hidden", ChannelH5, CapFavourite, "", FallbackHide},
		{"h5 download opens URL", ChannelH5, CapFileDownload, "", FallbackOpenURL},
		{"h5 camera file input", ChannelH5, CapCamera, "", FallbackFileInput},
		{"h5 scan hidden", ChannelH5, CapScan, "", FallbackHide},
		{"h5 launch url scheme", ChannelH5, CapLaunch, "", FallbackURLScheme},
		{"app launch url scheme", ChannelApp, CapLaunch, "", FallbackURLScheme},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s, ok := Lookup(tt.channel, tt.capability)
			if !ok {
				t.Fatalf("Lookup(%s, %s) found nothing", tt.channel, tt.capability)
			}

			if s.API != tt.wantAPI || s.Fallback != tt.wantFallback {
				t.Errorf("Lookup(%s, %s) = api %q fallback %q, want api %q fallback %q",
					tt.channel, tt.capability, s.API, s.Fallback, tt.wantAPI, tt.wantFallback)
			}
		})
	}

	if _, ok := Lookup("douyin", CapLogin); ok {
		t.Errorf("Lookup(douyin, login) found a cell, want none")
	}
}

// TestMatrixSources checks that confirmed cells cite https pages and that
// unconfirmed cells explain their origin in a note.
func TestMatrixSources(t *testing.T) {
	t.Parallel()

	for _, ch := range Channels() {
		for _, c := range Capabilities() {
			s, _ := Lookup(ch, c)

			for _, link := range append([]string{s.Source}, s.SeeAlso...) {
				if link == "" {
					continue
				}

				u, err := url.Parse(link)
				if err != nil || u.Scheme != "https" || u.Host == "" {
					t.Errorf("%s/%s: source %q is not an https URL", ch, c, link)
				}
			}

			if s.Supported && s.API != "" && !s.Confirmed && s.Note == "" {
				t.Errorf("%s/%s: unconfirmed API %s has no note saying where it comes from", ch, c, s.API)
			}
		}
	}
}

// TestFallbacksDocumented keeps the package comment in step with the
// fallback enum.
func TestFallbacksDocumented(t *testing.T) {
	t.Parallel()

	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatalf("read doc.go: %v", err)
	}

	for _, f := range fallbacks {
		if !strings.Contains(string(doc), "//   - "+string(f)+":") {
			t.Errorf("fallback %q is not described in the package comment", f)
		}
	}
}

// TestProblemCodesDocumented keeps the package comment in step with the
// problem codes.
func TestProblemCodesDocumented(t *testing.T) {
	t.Parallel()

	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatalf("read doc.go: %v", err)
	}

	all := []Code{
		CodeTooLarge, CodeInvalidJSON, CodeInvalidText, CodeDuplicateKey, CodeTooDeep, CodeTooManyNodes,
		CodeSchema, CodeInvalidRoot, CodeNestedPage, CodeUnknownComponent, CodeDuplicateID,
		CodeChildrenNotAllowed, CodeUnknownTemplate, CodeTooManyProblems, CodeInternal,
	}

	for _, c := range all {
		if !strings.Contains(string(doc), "//   - "+string(c)+":") {
			t.Errorf("problem code %q is not described in the package comment", c)
		}
	}
}
