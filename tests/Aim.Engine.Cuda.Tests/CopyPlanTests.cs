// CudaKernels.PlanCopy (no GPU needed): which copy.cu kernel a Copy of two collapsed views runs, whether it vectorises,
// its scalar head and its piece count. The kernels themselves are checked bit for bit against the generic copy under
// the CPU emulation (tests/cuda-emulation/copy_check.cpp, which mirrors this plan).
using Aim.Engine.Cuda.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Tests;

public class CopyPlanTests
{
    private static StridedDesc Desc(int[] shape, long[] strides) => StridedDesc.Collapse("Copy", shape, strides);

    private static StridedDesc Contiguous(params int[] shape) => Desc(shape, Tensor.ContiguousStrides(shape));

    [Theory]
    [InlineData(7, 0, 0, true, 0, 2)]      // one vector, a tail of 3
    [InlineData(7, 1, 1, true, 3, 2)]      // a head of 3, one vector
    [InlineData(7, 2, 2, true, 2, 3)]      // a head of 2, one vector, a tail of 1
    [InlineData(1, 3, 3, true, 1, 1)]      // the head is the whole run
    [InlineData(257, 1, 2, false, 0, 257)] // different alignments: one element per piece
    [InlineData(8192 * 768, 0, 0, true, 0, 8192 * 768 / 4)]
    public void FlatRuns(int n, int sourceAlign, int outputAlign, bool vec, int head, long pieces)
    {
        var plan = CudaKernels.PlanCopy(Contiguous(n), Contiguous(n), n, (ulong)(64 + sourceAlign), (ulong)(128 + outputAlign));
        Assert.Equal(CudaKernels.CopyKind.Flat, plan.Kind);
        Assert.Equal(vec, plan.Vector);
        Assert.Equal(head, plan.Head);
        Assert.Equal(pieces, plan.Pieces);
    }

    [Fact]
    public void ColumnSlicesOfTheInProjectionRowsAreVectorRowCopies()
    {
        // z = columns 0..1535 and x = columns 1536..3071 of (8192, 3352) rows, to and from contiguous (8192, 1536).
        var slice = Desc([8192, 1536], [3352, 1]);
        var plain = Contiguous(8192, 1536);
        var read = CudaKernels.PlanCopy(slice, plain, 8192L * 1536, 1536, 0);
        Assert.Equal(CudaKernels.CopyKind.Rows, read.Kind);
        Assert.True(read.Vector);
        Assert.Equal((8192L, 1536L, 3352L, 1536L, 0), (read.Rows, read.Cols, read.SourceRowStride, read.OutputRowStride, read.Head));
        Assert.Equal(8192L * 384, read.Pieces);
        var write = CudaKernels.PlanCopy(plain, slice, 8192L * 1536, 0, 1536);
        Assert.Equal(CudaKernels.CopyKind.Rows, write.Kind);
        Assert.True(write.Vector);
        Assert.Equal((1536L, 3352L), (write.SourceRowStride, write.OutputRowStride));
    }

    [Fact]
    public void RowStridesNotMultiplesOfFourOrDifferentAlignmentsCopyElementwise()
    {
        var odd = CudaKernels.PlanCopy(Desc([31, 257], [260, 1]), Contiguous(31, 257), 31L * 257, 0, 0);
        Assert.Equal(CudaKernels.CopyKind.Rows, odd.Kind);
        Assert.False(odd.Vector);
        Assert.Equal(31L * 257, odd.Pieces);
        var shifted = CudaKernels.PlanCopy(Desc([31, 256], [260, 1]), Desc([31, 256], [264, 1]), 31L * 256, 1, 2);
        Assert.False(shifted.Vector);
        var headed = CudaKernels.PlanCopy(Desc([31, 257], [264, 1]), Desc([31, 257], [268, 1]), 31L * 257, 1, 1);
        Assert.True(headed.Vector);
        Assert.Equal(3, headed.Head);
        Assert.Equal(31L * (1 + 63 + 1), headed.Pieces); // head of 3, 63 vectors, tail of 2 per row
    }

    [Fact]
    public void ThreeDimensionalSlicesCollapseToRowsAndBroadcastRowsAreRows()
    {
        var slice = CudaKernels.PlanCopy(Desc([4, 9, 32], [360, 40, 1]), Contiguous(4, 9, 32), 4L * 9 * 32, 8, 0);
        Assert.Equal(CudaKernels.CopyKind.Rows, slice.Kind);
        Assert.Equal((36L, 32L, 40L), (slice.Rows, slice.Cols, slice.SourceRowStride));
        Assert.True(slice.Vector);
        var broadcast = CudaKernels.PlanCopy(Desc([9, 256], [0, 1]), Contiguous(9, 256), 9L * 256, 0, 0);
        Assert.Equal(CudaKernels.CopyKind.Rows, broadcast.Kind);
        Assert.Equal(0L, broadcast.SourceRowStride);
    }

    [Fact]
    public void OtherLayoutsAndDtypePairsStayGeneric()
    {
        Assert.Equal(CudaKernels.CopyKind.Generic, CudaKernels.PlanCopy(Desc([7, 31], [1, 7]), Contiguous(7, 31), 217, 0, 0).Kind);          // transpose
        Assert.Equal(CudaKernels.CopyKind.Generic, CudaKernels.PlanCopy(Desc([5, 4, 30], [279, 31, 1]), Contiguous(5, 4, 30), 600, 0, 0).Kind); // rank 3
        Assert.Equal(CudaKernels.CopyKind.Generic, CudaKernels.PlanCopy(Desc([257, 1], [7, 1]), Contiguous(257, 1), 257, 3, 0).Kind);       // a column
        Assert.Equal(CudaKernels.CopyKind.Generic, CudaKernels.PlanCopy(Desc([6, 10], [13, 1]), Desc([12, 5], [8, 1]), 60, 1, 0).Kind);      // rows of different widths
        Assert.True(CudaKernels.FastCopyPair(DType.Float32, DType.BFloat16));
        Assert.True(CudaKernels.FastCopyPair(DType.BFloat16, DType.Float32));
        Assert.True(CudaKernels.FastCopyPair(DType.Float32, DType.Float32));
        Assert.False(CudaKernels.FastCopyPair(DType.BFloat16, DType.BFloat16));
        Assert.False(CudaKernels.FastCopyPair(DType.Float64, DType.Float32));
        Assert.False(CudaKernels.FastCopyPair(DType.Int64, DType.Int64));
    }
}
