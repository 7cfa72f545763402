"""FoundIR's residual-diffusion generalist (paper 001, sec. 4.1).

* :mod:`gir.models.diffusion_process` (also importable as ``gir.diffusion.process``): the forward process with
  residual, condition and noise terms, its closed form, and the deterministic few-step sampler;
* :mod:`gir.diffusion.objective`: the ``residual_diffusion`` training objective (L1 on the predicted residual);
* the network is the registered architecture ``diffusion_unet`` (:mod:`gir.models.diffusion_unet`), which
  ``gir restore --model``, ``gir bench run`` and training validation run like any restorer.
"""
