package model

import "testing"

// TestLayers checks each architecture's layer descriptions against its
// parameters (weights, biases, BatchNorm scales and shifts, net by net) and
// against the spec's Dis_l layer.
func TestLayers(t *testing.T) {
	disL := map[string]string{"mnist": "dis.conv2", "celeba64": "dis.conv4"}
	for _, name := range ArchNames() {
		a, _ := LookupArch(name)
		n := newNets(a, 1)
		want := map[string]int{}
		for _, ps := range []struct {
			net string
			s   *ParamSet
		}{{"enc", &n.Enc}, {"dec", &n.Dec}, {"dis", &n.Dis}} {
			for _, p := range ps.s.Params {
				want[ps.net] += shapeLen(p.Shape)
			}
		}
		got := map[string]int{}
		var taps []string
		for _, s := range a.Layers() {
			got[s.Name[:3]] += s.Params()
			if s.DisL {
				taps = append(taps, s.Name)
			}
		}
		for net, w := range want {
			if got[net] != w {
				t.Errorf("%s: the layers of %s hold %d parameters, the net %d", name, net, got[net], w)
			}
		}
		if len(taps) != 1 || taps[0] != disL[name] {
			t.Errorf("%s: Dis_l layers %v, want [%s]", name, taps, disL[name])
		}
	}
}
