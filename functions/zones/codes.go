package zones

import (
	"net/http"

	"github.com/jingtong/backend/shared/httpx"
)

// Error codes of the zones function. Codes shared by every function (bad
// JSON, body limits, version conflicts, authentication) live in httpx.
//
// Public and admin routes share each not-found code and its message. Public
// reads treat an entity that is not published, or a zone not shown on the
// requested channel, as not found, while admins see drafts too. "Not found"
// is true for both audiences, so clients branch on one code per resource.
var (
	CodeZoneNotFound = httpx.NewCode("ZONE_NOT_FOUND", http.StatusNotFound,
		"找不到专区 %q",
		"zone %q not found")
	CodeServiceNotFound = httpx.NewCode("SERVICE_NOT_FOUND", http.StatusNotFound,
		"找不到服务 %q",
		"service %q not found")
	CodeItemNotFound = httpx.NewCode("ITEM_NOT_FOUND", http.StatusNotFound,
		"找不到一件事 %q",
		"one-thing item %q not found")
	CodeTemplateNotFound = httpx.NewCode("TEMPLATE_NOT_FOUND", http.StatusNotFound,
		"找不到模板 %q",
		"template %q not found")
	CodePageNotFound = httpx.NewCode("PAGE_NOT_FOUND", http.StatusNotFound,
		"专区 %q 还没有页面",
		"zone %q has no page yet")
	CodePageVersionNotFound = httpx.NewCode("PAGE_VERSION_NOT_FOUND", http.StatusNotFound,
		"专区 %q 的页面没有版本 %s",
		"the page of zone %q has no version %s")
	CodeOpNotFound = httpx.NewCode("OPLOG_ENTRY_NOT_FOUND", http.StatusNotFound,
		"找不到操作记录 %q",
		"operation-log entry %q not found")

	CodeZoneExists = httpx.NewCode("ZONE_ALREADY_EXISTS", http.StatusConflict,
		"专区 %q 已存在，请换一个编号或修改已有专区",
		"zone %q already exists; choose another id or update the existing zone")
	CodeServiceExists = httpx.NewCode("SERVICE_ALREADY_EXISTS", http.StatusConflict,
		"服务 %q 已存在，请换一个编号或修改已有服务",
		"service %q already exists; choose another id or update the existing service")
	CodeItemExists = httpx.NewCode("ITEM_ALREADY_EXISTS", http.StatusConflict,
		"一件事 %q 已存在，请换一个编号或修改已有事项",
		"one-thing item %q already exists; choose another id or update the existing item")
	CodeTemplateExists = httpx.NewCode("TEMPLATE_ALREADY_EXISTS", http.StatusConflict,
		"模板 %q 已存在，请换一个编号或修改已有模板",
		"template %q already exists; choose another id or update the existing template")

	CodeDeletePublished = httpx.NewCode("DELETE_PUBLISHED", http.StatusConflict,
		"%q 仍处于发布状态，请先下线再删除",
		"%q is published; unpublish it before deleting it")
	CodeZoneInUse = httpx.NewCode("ZONE_IN_USE", http.StatusConflict,
		"专区 %q 下仍有 %d 个一件事，请先移走或删除这些事项",
		"zone %q still has %d one-thing items; move or delete them first")
	CodeServiceInUse = httpx.NewCode("SERVICE_IN_USE", http.StatusConflict,
		"服务 %q 仍被 %d 个一件事引用，请先从这些事项中移除",
		"service %q is still bundled by %d one-thing items; remove it from them first")

	CodeInvalidPage = httpx.NewCode("INVALID_PAGE", http.StatusBadRequest,
		"页面文档无效，请按 details 中列出的位置修改",
		"invalid page document; fix the places listed in details")
)
