// Tiles N equally sized RGB images into one near-square grid with a black padding band around every tile
// (torchvision make_grid's layout: pad before each column/row and after the last, pad value 0).
namespace Aim.Models.Images;

/// <summary>Grid geometry and composition of interleaved RGB (H·W·3 bytes per image) tiles.</summary>
public static class ImageGrid
{
    /// <summary>Columns and rows for <paramref name="count"/> tiles: columns = ⌈√n⌉, rows = ⌈n / columns⌉.</summary>
    public static (int Columns, int Rows) Layout(int count)
    {
        if (count < 1) throw new ArgumentException($"ImageGrid.Layout: count {count} must be at least 1");
        int columns = (int)Math.Ceiling(Math.Sqrt(count));
        while ((columns - 1) * (columns - 1) >= count) columns--;     // guard against sqrt rounding up
        while (columns * columns < count) columns++;
        int rows = (count + columns - 1) / columns;
        return (columns, rows);
    }

    /// <summary>Pixel size of the grid for <paramref name="count"/> tiles of <paramref name="width"/>×<paramref name="height"/>.</summary>
    public static (int Width, int Height) Size(int count, int width, int height, int padding)
    {
        if (padding < 0) throw new ArgumentException($"ImageGrid.Size: padding {padding} must be >= 0");
        var (columns, rows) = Layout(count);
        return (columns * (width + padding) + padding, rows * (height + padding) + padding);
    }

    /// <summary>
    /// Composes tiles (each H·W·3 bytes, row-major RGB) into one RGB buffer of <see cref="Size"/>; unused cells
    /// and the padding stay black.
    /// </summary>
    public static byte[] Compose(IReadOnlyList<byte[]> tiles, int width, int height, int padding, out int gridWidth, out int gridHeight)
    {
        int tileBytes = width * height * 3;
        for (int i = 0; i < tiles.Count; i++)
            if (tiles[i].Length != tileBytes)
                throw new ArgumentException($"ImageGrid.Compose: tile {i} has {tiles[i].Length} bytes, expected {width}x{height}x3 = {tileBytes}");
        var (columns, _) = Layout(tiles.Count);
        (gridWidth, gridHeight) = Size(tiles.Count, width, height, padding);
        var grid = new byte[(long)gridWidth * gridHeight * 3];
        for (int i = 0; i < tiles.Count; i++)
        {
            int x0 = padding + i % columns * (width + padding);
            int y0 = padding + i / columns * (height + padding);
            for (int y = 0; y < height; y++)
                tiles[i].AsSpan(y * width * 3, width * 3).CopyTo(grid.AsSpan(((y0 + y) * gridWidth + x0) * 3, width * 3));
        }
        return grid;
    }
}
