package localdev

import (
	"html/template"
	"net/http"
	"regexp"
)

var h5ID = regexp.MustCompile(`^[a-z0-9][a-z0-9/-]{0,120}$`)

var placeholderTemplate = template.Must(template.New("h5").Parse(`<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>京通 H5 占位页 / Jingtong H5 placeholder</title></head>
<body>
<h1>京通 H5 占位页</h1>
<p>本地开发环境中，服务 <code>{{.}}</code> 的 H5 页面由此占位页代替。</p>
<h1 lang="en">Jingtong H5 placeholder</h1>
<p lang="en">In local development this page stands in for the H5 page of service <code>{{.}}</code>.</p>
</body>
</html>
`))

// placeholderPage serves the stand-in for a catalogue H5 link, so links in
// the demo data never leave the machine.
func placeholderPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !h5ID.MatchString(id) {
		notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	_ = placeholderTemplate.Execute(w, id)
}

var staticPath = regexp.MustCompile(`^[a-z0-9][a-z0-9/_.-]{0,120}\.svg$`)

var placeholderImage = template.Must(template.New("svg").Parse(`<svg xmlns="http://www.w3.org/2000/svg" width="750" height="300" viewBox="0 0 750 300">
<rect width="750" height="300" fill="#C8102E"/>
<text x="375" y="160" font-size="32" text-anchor="middle" fill="#FFFFFF">{{.}}</text>
</svg>
`))

// placeholderStatic serves a generated SVG for any /static/*.svg path, so
// icons and banners in the demo data render without outside hosts.
func placeholderStatic(w http.ResponseWriter, r *http.Request) {
	path := r.PathValue("path")
	if !staticPath.MatchString(path) {
		notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_ = placeholderImage.Execute(w, path)
}
