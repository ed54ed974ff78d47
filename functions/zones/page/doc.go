// Package page validates and renders zone pages: versioned JSON trees of
// components that operators build once and that every channel (WeChat,
// Alipay and Baidu mini-programs, the Jingtong app and H5) renders. The
// package is pure logic: it does no I/O, keeps no state between calls, and
// its functions are safe for concurrent use.
//
// # Document format
//
// A page document is a JSON object:
//
//	{
//	  "schema_version": 1,
//	  "title": {"zh": "教育专区", "en": "Education"},
//	  "templates": ["spring-festival-2027"],
//	  "body": {"type": "page", "id": "root", "props": {...}, "children": [...]}
//	}
//
// schema_version must be 1. templates lists ids of templates the page
// references, at most 8. body is the root node and must be of type page.
//
// A node has four members and no others:
//
//   - type: a component name from the registry (see Components).
//   - id: unique within the page, 1 to 64 characters of [A-Za-z0-9_-],
//     starting with a letter or digit. Editors diff pages by id, and
//     problems and rendered nodes carry it.
//   - props: an object checked against the component's JSON Schema
//     (schemas/<type>.json). It may be left out when the component has no
//     required props.
//   - children: an array of at most 100 nodes. Only the containers page and
//     section may have a non-empty children array, and page may only be the
//     root.
//
// A localised value is an object {"zh": "...", "en": "..."}. zh is required
// and en falls back to zh.
//
// A link is an object under the props key link or more_link. Its type is
// one of:
//
//   - service or page: target is an id.
//   - url or file: target is an https URL.
//   - mini_program: app_ids maps wechat, alipay and baidu to the program's
//     app id on that platform. path is the page to open, and fallback_url
//     an https URL for channels that cannot open the program. Both are
//     optional.
//
// Bindings: app_grid props.services, item_list props.items and
// subscription props.topics contain ids of services, one-thing items and
// topics. Document.References lists everything a page binds.
//
// # Template format
//
// A template document is {"schema_version": 1, "theme": {...}, "prepend":
// [nodes], "append": [nodes]} with at least one of the last three. theme has
// primary_color, background_color, text_color (#RRGGBB) and
// background_image (https URL), like a page's props.theme. prepend and
// append hold at most 10 nodes each, checked like page children.
//
// # Limits
//
// Validate rejects a document over MaxDocumentBytes (1 MiB), JSON nested
// deeper than MaxJSONDepth (64), more than MaxNodes nodes (2,000, the root
// included) or a node tree deeper than MaxNodeDepth (12, the root at 1). It
// reports at most MaxProblems problems (100) and then one too_many_problems.
// The schemas bound every string's length and every array's size.
//
// # Problem codes
//
// Each Problem has an RFC 6901 JSON Pointer into the submitted document, a
// Code, and a message in Chinese and English. A caller that carries the
// document inside a larger JSON value calls Problem.WithBase to make the
// pointers, those in messages included, point into that value:
//
//   - too_large: the document is over MaxDocumentBytes. Nothing else is
//     checked.
//   - invalid_json: not UTF-8, not JSON, or data after the JSON value. The
//     path is where parsing stopped, and nothing else is checked.
//   - invalid_text: a string, object keys included, contains a NUL
//     character (U+0000) or an unpaired UTF-16 surrogate escape such as
//     \ud800. Neither is a character that a front end can show, and
//     PostgreSQL cannot store NUL.
//   - duplicate_key: an object repeats a key. JSON parsers disagree on
//     which value wins, so the page would be ambiguous.
//   - too_deep: JSON nesting over MaxJSONDepth (parsing stops) or a node
//     deeper than MaxNodeDepth (its subtree is skipped).
//   - too_many_nodes: the node at the path is number MaxNodes+1. Nodes from
//     there on are not checked.
//   - schema: a value breaks a JSON Schema: the envelope, a node's shape or
//     a component's props. Keyword names the failed keyword. For required
//     and additionalProperties the path points at the property concerned.
//   - invalid_root: body is not of type page.
//   - nested_page: a page node below the root.
//   - unknown_component: type names no registered component, so its props
//     are not checked.
//   - duplicate_id: the id is already used by an earlier node, which the
//     message names.
//   - children_not_allowed: a non-container has children, which are not
//     checked.
//   - unknown_template: reported by Document.CheckTemplates for a template
//     id that names no template, in any state. Render applies only the
//     templates its caller passes in, and the zones function passes only
//     published ones.
//   - too_many_problems: the last entry when more than MaxProblems were
//     found.
//   - internal: the schema library failed in an unexpected way.
//
// # Capabilities and fallbacks
//
// capabilities.json is the channel capability matrix: for each channel and
// each capability (login, share, favourite, file_download, camera, scan,
// launch) whether the channel supports it, the platform API behind it, the
// platform documentation page that was read to confirm it, and the fallback
// when the channel lacks it. Lookup reads one cell. The fallbacks are:
//
//   - hide: leave the feature out. Render removes nodes that need it.
//   - copy_link: instead of sharing, copy the page URL to the clipboard.
//   - redirect_login: redirect to the unified identity web login, which
//     returns to the page after login.
//   - open_url: open the URL in a new window and let the browser download
//     or show the file.
//   - file_input: use a file input (<input type="file" accept="image/*"
//     capture>) instead of the camera API.
//   - url_scheme: open the target through a universal link or URL scheme,
//     which is the link's fallback_url.
//
// # Rendering
//
// Render prepares a Document for one channel and language:
//
//   - It applies each referenced template whose window contains Now (start
//     inclusive, end exclusive, a nil bound open) in the page's order: its
//     prepend nodes go before the root's children, its append nodes after
//     them, and its theme keys override the page's props.theme. Template
//     node ids become "<template id>:<node id>". Rendered.ValidUntil is the
//     next window boundary after Now.
//   - It replaces localised values with strings in the chosen language.
//   - It replaces service and item ids with cards, dropping ids that are
//     unknown or, for services, not available on the channel. A service
//     link to such an id is dropped, but the slide or list entry containing
//     it stays.
//   - It drops page links to zones missing from RenderInput.Pages, when the
//     caller passes that map. The entry containing the link stays, as it
//     does for service links.
//   - It applies the channel's capabilities. login_prompt nodes need the
//     capability in their props, subscription nodes need login, service
//     cards that require login need login, file links need file_download
//     and mini_program links need launch. A supported capability is
//     annotated as {"name": "login", "api": "wx.login"} and an unsupported
//     one as {"name": "login", "fallback": "redirect_login"}. File links
//     with the fallback open_url become url links. With the fallback hide,
//     Render removes the node, card or link.
//   - It lists every capability of the channel in Rendered.Channel.
//
// The rendering is deterministic: the same inputs marshal to the same bytes.
package page
