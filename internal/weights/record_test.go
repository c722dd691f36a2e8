package weights

import (
	"reflect"
	"testing"
)

// TestKeyRecorder: a Loader over a KeyRecorder records every tensor asked
// for, in order, with its full key and shape, and answers with zeros.
func TestKeyRecorder(t *testing.T) {
	r := &KeyRecorder{}
	l := NewLoader(r)
	a := l.Sub("block").Subf("layers.%d", 2).Tensor("weight", 3, 4)
	b := l.Tensor("bias", 5)
	l.Sub("norm").Tensor("weight", 2)
	if l.Err() != nil {
		t.Fatal(l.Err())
	}
	want := []Key{{"block.layers.2.weight", []int{3, 4}}, {"bias", []int{5}}, {"norm.weight", []int{2}}}
	if !reflect.DeepEqual(r.Keys, want) {
		t.Errorf("keys %v, want %v", r.Keys, want)
	}
	if !reflect.DeepEqual(a.Shape, []int{3, 4}) || len(a.Data) != 12 || len(b.Data) != 5 {
		t.Errorf("tensors %v %d, %v %d", a.Shape, len(a.Data), b.Shape, len(b.Data))
	}
	for _, v := range append(a.Data, b.Data...) {
		if v != 0 {
			t.Fatal("recorder values are not zero")
		}
	}
	if l.Has("bias") {
		t.Error("a recorder holds no tensors")
	}
	if _, err := r.Float32("bias"); err == nil {
		t.Error("Float32 of a recorder succeeded")
	}
}
