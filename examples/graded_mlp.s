; A two-layer graded-spike network over three cores (docs/examples.md, "Graded MLP").
; Layer 1 (4 ReLU neurons, shift 1) sits on cores 0 and 1; layer 2 (2 outputs) on core 2.
; Input x = (3, -2) is injected at step 0 on axons 0 and 1 of cores 0 and 1; after step 1 the
; membranes of core 2 hold the logits (-104, 114).
.chip cores=3
.equ HIDDEN_SHIFT, 1

.core 0                         ; hidden neurons h0, h1
    acc  neuron=0, count=2, wbase=0
    fire neuron=0, count=2, shift=HIDDEN_SHIFT, reset=always, graded=1
    halt
.weights 0: 2 -1 1 4            ; row axon 0: (2, -1); row axon 1: (1, 4)
.neuron 0 threshold=1 reset=2 init=2 decay=0 fanout_start=0 fanout_count=1
.neuron 1 threshold=1 reset=20 init=20 decay=0 fanout_start=1 fanout_count=1
.fanout 0: 2:0 2:1

.core 1                         ; hidden neurons h2, h3
    acc  neuron=0, count=2, wbase=0
    fire neuron=0, count=2, shift=HIDDEN_SHIFT, reset=always, graded=1
    halt
.weights 0: -3 5 0 7
.neuron 0 threshold=1 reset=0 init=0 decay=0 fanout_start=0 fanout_count=1
.neuron 1 threshold=1 reset=300 init=300 decay=0 fanout_start=1 fanout_count=1
.fanout 0: 2:2 2:3

.core 2                         ; outputs o0, o1: cleared to their bias, then accumulate
    fire neuron=0, count=2, shift=0, reset=always, graded=0
    acc  neuron=0, count=2, wbase=0
    halt
.weights 0: 1 -1 2 0 5 5 -1 1
.neuron 0 threshold=2147483647 reset=10 init=10 decay=0
.neuron 1 threshold=2147483647 reset=-10 init=-10 decay=0
