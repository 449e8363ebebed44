"""Model frontends: ways into the compiler's float IR (:class:`~spikecore.compiler.ir.FloatGraph`).

``torch`` (the default: the torch.export walk), ``nir`` (NIR graphs) and ``tvm`` (optional,
``pip install 'spikecore[tvm]'``: torch.export → TVM Relax → BYOC partition → the ``relax.ext.spikecore``
codegen).
"""
