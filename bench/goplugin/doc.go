// Package goplugin measures hashicorp/go-plugin beside runplug's isolated
// plugins in one benchmark run: the same integer call, add(a, b), served
// by a go-plugin net/rpc plugin process and by an isolated runplug plugin.
// It is a module of its own so that runplug does not depend on go-plugin:
//
//	cd bench/goplugin && go test -run '^$' -bench . -count 5
package goplugin
