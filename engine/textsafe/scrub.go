package textsafe

import "reflect"

// Multiline names the struct fields Scrub treats as multi-line text
// (escaped with Text, keeping newlines and tabs); every other string is a
// one-line field (escaped with Line), so a host cannot forge table rows
// with a newline in its name.
var Multiline = map[string]bool{"Diff": true, "Output": true, "Err": true, "Error": true, "Message": true, "Content": true, "Detail": true}

// Scrub escapes every string reachable from the variable ptr points to, as
// Line or Text would, for a face about to show an engine value. It is
// copy-on-write: what changes is copied (structs, slices, maps, pointees)
// and only *ptr is replaced, so values the engine or another subscriber
// still holds are never modified. Escaping is idempotent.
func Scrub(ptr any) {
	p := reflect.ValueOf(ptr)
	if p.Kind() != reflect.Pointer || p.IsNil() {
		return
	}
	if nv, changed := clean(p.Elem(), false, 0); changed {
		p.Elem().Set(nv)
	}
}

// maxDepth stops a cyclic pointer graph; engine values are trees.
const maxDepth = 32

// clean returns a scrubbed copy of v and true, or v and false when nothing
// in it needs escaping.
func clean(v reflect.Value, multiline bool, depth int) (reflect.Value, bool) {
	if depth > maxDepth || !v.IsValid() {
		return v, false
	}
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		t := Line(s)
		if multiline {
			t = Text(s)
		}
		if t == s {
			return v, false
		}
		return reflect.ValueOf(t).Convert(v.Type()), true
	case reflect.Pointer:
		if v.IsNil() {
			return v, false
		}
		ne, ch := clean(v.Elem(), multiline, depth+1)
		if !ch {
			return v, false
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(ne)
		return p, true
	case reflect.Interface:
		if v.IsNil() {
			return v, false
		}
		ne, ch := clean(v.Elem(), multiline, depth+1)
		if !ch {
			return v, false
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(ne)
		return out, true
	case reflect.Struct:
		t := v.Type()
		var out reflect.Value
		for i := 0; i < v.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			nf, ch := clean(v.Field(i), Multiline[f.Name], depth+1)
			if !ch {
				continue
			}
			if !out.IsValid() {
				out = reflect.New(t).Elem()
				out.Set(v)
			}
			out.Field(i).Set(nf)
		}
		if out.IsValid() {
			return out, true
		}
		return v, false
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && (v.IsNil() || v.Type().Elem().Kind() == reflect.Uint8) {
			return v, false // bytes are content, not shown as text
		}
		var out reflect.Value
		for i := 0; i < v.Len(); i++ {
			ne, ch := clean(v.Index(i), multiline, depth+1)
			if !ch {
				continue
			}
			if !out.IsValid() {
				if v.Kind() == reflect.Slice {
					out = reflect.MakeSlice(v.Type(), v.Len(), v.Len())
				} else {
					out = reflect.New(v.Type()).Elem()
				}
				reflect.Copy(out, v)
			}
			out.Index(i).Set(ne)
		}
		if out.IsValid() {
			return out, true
		}
		return v, false
	case reflect.Map:
		if v.IsNil() {
			return v, false
		}
		var out reflect.Value
		iter := v.MapRange()
		for iter.Next() {
			ne, ch := clean(iter.Value(), multiline, depth+1)
			if !ch {
				continue
			}
			if !out.IsValid() {
				out = reflect.MakeMapWithSize(v.Type(), v.Len())
				all := v.MapRange()
				for all.Next() {
					out.SetMapIndex(all.Key(), all.Value())
				}
			}
			out.SetMapIndex(iter.Key(), ne)
		}
		if out.IsValid() {
			return out, true
		}
		return v, false
	}
	return v, false
}
