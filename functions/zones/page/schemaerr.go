package page

import (
	"cmp"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// englishPrinter renders the schema library's English details, which the
// English problem messages quote.
var englishPrinter = message.NewPrinter(language.English)

// validateSchema checks v against sch and records one problem per failed
// keyword, with paths below base.
func validateSchema(sch *jsonschema.Schema, v any, base string, ps *problems) bool {
	err := sch.Validate(v)
	if err == nil {
		return true
	}

	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		ps.addf(base, CodeInternal, "校验失败，请稍后重试。", fmt.Sprintf("schema validation failed: %v", err))

		return false
	}

	var found []Problem
	collectLeaves(ve, base, &found)

	// The library walks properties in map order, so sort for stable output.
	slices.SortStableFunc(found, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(a.Keyword, b.Keyword))
	})

	for _, p := range found {
		if !ps.add(p) {
			break
		}
	}

	return false
}

// collectLeaves flattens the error tree into problems. Wrapper kinds (the
// schema itself, $ref, allOf) only group their causes, so the leaves carry
// the information. anyOf and oneOf are reported once at their own location,
// because the failures of every alternative would bury the real mistake.
func collectLeaves(e *jsonschema.ValidationError, base string, out *[]Problem) {
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		*out = append(*out, leafProblems(e, base)...)

		return
	}

	if len(e.Causes) == 0 {
		*out = append(*out, leafProblems(e, base)...)

		return
	}

	for _, c := range e.Causes {
		collectLeaves(c, base, out)
	}
}

// leafProblems maps one failed keyword to problems. required and
// additionalProperties name properties, so they yield one problem per
// property, pointing at the property itself.
func leafProblems(e *jsonschema.ValidationError, base string) []Problem {
	at := base + pointer(e.InstanceLocation...)
	detail := e.ErrorKind.LocalizedString(englishPrinter)
	keyword := strings.Join(e.ErrorKind.KeywordPath(), "/")
	if _, ok := e.ErrorKind.(*kind.FalseSchema); ok {
		keyword = "false" // a property whose schema is false
	}

	mk := func(path, zh, en string) Problem {
		return Problem{Path: path, Code: CodeSchema, Keyword: keyword, Message: Text{ZH: zh, EN: en}}
	}

	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		out := make([]Problem, 0, len(k.Missing))
		for _, name := range k.Missing {
			out = append(out, mk(join(at, name),
				fmt.Sprintf("缺少必填字段 %q。", name),
				fmt.Sprintf("missing required property %q", name)))
		}

		return out
	case *kind.AdditionalProperties:
		out := make([]Problem, 0, len(k.Properties))
		for _, name := range k.Properties {
			out = append(out, mk(join(at, name),
				fmt.Sprintf("不支持字段 %q，请删除。", name),
				fmt.Sprintf("property %q is not allowed here; remove it", name)))
		}

		return out
	case *kind.FalseSchema:
		return []Problem{mk(at, "此处不允许该字段。", "property is not allowed here")}
	}

	zh, en := kindMessage(e.ErrorKind)

	return []Problem{mk(at, zh, en+" ("+detail+")")}
}

// kindMessage returns a Chinese message and an English summary for a failed
// keyword. The caller appends the library's English detail.
func kindMessage(k jsonschema.ErrorKind) (zh, en string) {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("类型错误：应为%s，实际为%s。", typeNamesZH(k.Want), typeNameZH(k.Got)), "wrong type"
	case *kind.Enum:
		return fmt.Sprintf("取值不在允许范围内，可选值：%s。", joinValues(k.Want)), "value is not allowed"
	case *kind.Const:
		return fmt.Sprintf("取值必须为 %v。", k.Want), "value is not allowed"
	case *kind.MinLength:
		return fmt.Sprintf("内容过短：至少 %d 个字符，当前 %d 个。", k.Want, k.Got), "text is too short"
	case *kind.MaxLength:
		return fmt.Sprintf("内容过长：最多 %d 个字符，当前 %d 个。", k.Want, k.Got), "text is too long"
	case *kind.Pattern:
		hint, ok := patternHints[k.Want]
		if !ok {
			return "格式不正确。", "text does not match the required format"
		}

		return "格式不正确：" + hint.ZH + "。", "text does not match the required format: " + hint.EN
	case *kind.Minimum:
		return fmt.Sprintf("数值过小：不能小于 %s。", ratString(k.Want)), "number is too small"
	case *kind.Maximum:
		return fmt.Sprintf("数值过大：不能大于 %s。", ratString(k.Want)), "number is too large"
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("数值过小：必须大于 %s。", ratString(k.Want)), "number is too small"
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("数值过大：必须小于 %s。", ratString(k.Want)), "number is too large"
	case *kind.MultipleOf:
		return fmt.Sprintf("数值必须是 %s 的整数倍。", ratString(k.Want)), "number is not a multiple of the step"
	case *kind.MinItems:
		return fmt.Sprintf("数量过少：至少 %d 项，当前 %d 项。", k.Want, k.Got), "too few items"
	case *kind.MaxItems:
		return fmt.Sprintf("数量过多：最多 %d 项，当前 %d 项。", k.Want, k.Got), "too many items"
	case *kind.UniqueItems:
		return fmt.Sprintf("存在重复项：下标 %d 与下标 %d 的值相同。", k.Duplicates[0], k.Duplicates[1]), "items are not unique"
	case *kind.MinProperties:
		return fmt.Sprintf("字段过少：至少 %d 个。", k.Want), "too few properties"
	case *kind.MaxProperties:
		return fmt.Sprintf("字段过多：最多 %d 个。", k.Want), "too many properties"
	case *kind.OneOf, *kind.AnyOf:
		return "不符合任何一种允许的写法，请对照组件说明检查字段组合。", "value matches none, or more than one, of the allowed forms"
	case *kind.Not:
		return "取值不被允许。", "value is not allowed"
	case *kind.Format:
		return fmt.Sprintf("格式不正确，应为 %s。", k.Want), "wrong format"
	}

	return "取值不符合规则。", "value is invalid"
}

// patternHints explains each pattern of the embedded schemas in words.
// TestPatternHintsCoverSchemas keeps the two in step.
var patternHints = map[string]Text{
	`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`: {
		ZH: "只能包含字母、数字、下划线、点和连字符，以字母或数字开头，最多 64 个字符",
		EN: "letters, digits, '_', '.' and '-', starting with a letter or digit, at most 64 characters",
	},
	`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`: {
		ZH: "只能包含字母、数字、下划线和连字符，以字母或数字开头，最多 64 个字符",
		EN: "letters, digits, '_' and '-', starting with a letter or digit, at most 64 characters",
	},
	`^[a-z][a-z0-9_]{0,31}$`: {
		ZH: "组件名只能包含小写字母、数字和下划线，以字母开头",
		EN: "component names are lowercase letters, digits and '_', starting with a letter",
	},
	`^[a-z0-9][a-z0-9_.-]{0,63}$`: {
		ZH: "只能包含小写字母、数字、下划线、点和连字符，最多 64 个字符",
		EN: "lowercase letters, digits, '_', '.' and '-', at most 64 characters",
	},
	"^https://[^\\s\"'<>\\\\^`{|}]+$": {
		ZH: "必须是以 https:// 开头的网址，且不含空格和引号",
		EN: "an https:// URL without spaces or quotes",
	},
	"^(https://[^\\s\"'<>\\\\^`{|}]+|/static/[A-Za-z0-9][A-Za-z0-9/_.-]*)$": {
		ZH: "图片须是以 https:// 开头的网址，或以 /static/ 开头的站内路径",
		EN: "an https:// URL or a /static/ path on our own static host",
	},
	`^#[0-9A-Fa-f]{6}$`: {
		ZH: "颜色须写成 #RRGGBB，例如 #C8102E",
		EN: "a colour written as #RRGGBB, such as #C8102E",
	},
	`^[A-Za-z0-9_/.?=&%-]*$`: {
		ZH: "小程序页面路径只能包含字母、数字和 _/.?=&%-",
		EN: "a mini-program path of letters, digits and _/.?=&%-",
	},
	`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`: {
		ZH: "日期须写成 YYYY-MM-DD",
		EN: "a date written as YYYY-MM-DD",
	},
}

var typeNames = map[string]string{
	"string":  "字符串",
	"integer": "整数",
	"number":  "数字",
	"boolean": "布尔值",
	"object":  "对象",
	"array":   "数组",
	"null":    "空值",
}

func typeNameZH(t string) string {
	if zh, ok := typeNames[t]; ok {
		return zh
	}

	return t
}

func typeNamesZH(ts []string) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = typeNameZH(t)
	}

	return strings.Join(out, "或")
}

func joinValues(vs []any) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprint(v)
	}

	return strings.Join(out, "、")
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}

	return r.FloatString(6)
}
