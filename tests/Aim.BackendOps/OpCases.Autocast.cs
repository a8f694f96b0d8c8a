using Aim.Engine.Autograd;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: MatMul under Autocast (bf16 operands, f32 accumulation and result; Gemm's bf16 a and b with f32 c) at
// sizes 1, 7, 31, 257, the skinny row counts, every transpose, a transposed (non-contiguous) view and a shared
// (broadcast) operand. The backend and the reference multiply the same bf16-exact values, the reference
// accumulating in double, so the default NMSE limit (1e-10) holds on the CPU; CUDA (cuBLAS tensor cores, f32
// accumulation in their own order) gets 1e-9, far below the ~1e-6 that a product left in f32 (unrounded operands)
// would show. No gradient
// check: the float64 finite differences do not autocast (the backward products are tested in AutocastTests).
public static partial class OpCases
{
    /// <summary>a · b under <c>Autocast.Enable(DType.BFloat16)</c>.</summary>
    public static IEnumerable<OpCase> AutocastMatMul()
    {
        static Tensor[] Bf16(Func<Tensor[]> product)
        {
            using (Autocast.Enable(DType.BFloat16)) return product();
        }
        foreach (int m in s_oddSizes)
            foreach (int k in s_oddSizes)
                yield return new OpCase("MatMul.Autocast", $"M={m},K={k},N=33,tB",
                    rng => [Randn(rng, m, k), Randn(rng, 33, k)],
                    x => Bf16(() => [Ops.MatMul(x[0], x[1], false, true)])) { HasGradient = false, CudaMaxNmse = 1e-9 };
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                yield return new OpCase("MatMul.Autocast", $"M=17,N=31,K=257,tA={ta},tB={tb}",
                    rng => [Randn(rng, ta ? [257, 17] : [17, 257]), Randn(rng, tb ? [31, 257] : [257, 31])],
                    x => Bf16(() => [Ops.MatMul(x[0], x[1], ta, tb)])) { HasGradient = false, CudaMaxNmse = 1e-9 };
        yield return new OpCase("MatMul.Autocast", "view,M=7,K=31,N=257",
            rng => [Randn(rng, 31, 7), Randn(rng, 31, 257)],
            x => Bf16(() => [Ops.MatMul(Ops.Transpose(x[0], 0, 1), x[1])])) { HasGradient = false, CudaMaxNmse = 1e-9 };
        yield return new OpCase("MatMul.Autocast", "batched,B=3,M=5,K=31,N=7,sharedB",
            rng => [Randn(rng, 3, 5, 31), Randn(rng, 31, 7)],
            x => Bf16(() => [Ops.MatMul(x[0], x[1])])) { HasGradient = false, CudaMaxNmse = 1e-9 };
        yield return new OpCase("Linear.Autocast", "B=2,T=9,in=257,out=31,bias",
            rng => [Randn(rng, 2, 9, 257), Randn(rng, 31, 257), Randn(rng, 31)],
            x => Bf16(() => [Ops.Linear(x[0], x[1], x[2])])) { HasGradient = false, CudaMaxNmse = 1e-9 };
    }
}
